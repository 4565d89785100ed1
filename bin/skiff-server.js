#!/usr/bin/env node
'use strict';
// The warm skiff server (src/cli/server.ts): started by skiff-front when it is not running. The
// same file is the script of its worker threads: skiff's, and dock's (src/cli/dock-serve.ts), which
// load dist/dock.js.
const { isMainThread, workerData } = require('node:worker_threads');
if (!isMainThread && workerData.dock) {
  // Getting ready runs at the lowest priority of this thread alone (Linux: a thread's own nice
  // value); src/cli/dock-serve.ts takes it back to 0 when a call comes.
  // The main thread raises it at once when it hands this worker a call before it is ready.
  require('node:os').setPriority(19);
  require('node:worker_threads').parentPort.postMessage({ tid: Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()) });
  require('./launch.js')('dock', { keepAlive: true }).serveWorker();
} else {
  const cli = require('./launch.js')('skiff', { keepAlive: true });
  if (isMainThread) cli.serve(__filename);
  else cli.serveWorker();
}
