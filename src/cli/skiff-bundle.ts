// dist/skiff.js: the CLI (bin/skiff.js runs runCli) and the warm server (bin/skiff-server.js) in one
// bundle, so that they share one code cache and always come from the same build.
export { main, runCli } from './skiff';
export { serve, serveWorker } from './server';
