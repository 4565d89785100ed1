#!/usr/bin/env node
'use strict';
// The warm skiff server (src/cli/server.ts): started by skiff-front when it is not running. The
// same file is the script of its worker threads: skiff's, and dock's (src/cli/dock-serve.ts), which
// load dist/dock.js.
const { isMainThread, workerData } = require('node:worker_threads');
if (!isMainThread && workerData.dock) {
  require('./launch.js')('dock', { keepAlive: true }).serveWorker();
} else {
  const cli = require('./launch.js')('skiff', { keepAlive: true });
  if (isMainThread) cli.serve(__filename);
  else cli.serveWorker();
}
