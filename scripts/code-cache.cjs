'use strict';
// Run a bundled CLI once through bin/launch.js on a harmless command line and save V8's code
// cache of everything that ran: the functions of start-up then need no compiling.
// Usage: node scripts/code-cache.cjs NAME ARG...
const { renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const [name, ...args] = process.argv.slice(2);
process.argv = [process.argv[0], name, ...args];
let script;
let done = false;
// Registered before the CLI runs: launch's own 'beforeExit' handler exits the process.
process.on('beforeExit', () => {
  if (done || !script) return;
  done = true;
  const out = join(__dirname, '..', 'dist', `${name}.js.cache`);
  writeFileSync(`${out}.${process.pid}.tmp`, script.createCachedData());
  renameSync(`${out}.${process.pid}.tmp`, out);
  process.exitCode = 0; // the command itself is expected to fail harmlessly
});
script = require(join(__dirname, '..', 'bin', 'launch.js'))(name);
