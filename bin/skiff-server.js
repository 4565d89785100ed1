#!/usr/bin/env node
'use strict';
// The warm skiff server (src/cli/server.ts): started by skiff-front when it is not running. The
// same file is the script of its worker threads.
const { isMainThread } = require('node:worker_threads');
const cli = require('./launch.js')('skiff', { keepAlive: true });
if (isMainThread) cli.serve(__filename);
else cli.serveWorker();
