'use strict';
// Start a bundled CLI from dist/ with V8's code cache (dist/<name>.js.cache, made by the build):
// compiling the bundle is most of what start-up costs beyond Node itself. A cache that does not
// match this Node or this bundle is rejected by V8, and the bundle is simply compiled.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const Module = require('node:module');
const vm = require('node:vm');

/**
 * Once the event loop is empty, exit at once instead of letting Node tear down the heap and the
 * isolate: that teardown is a quarter of a short command's CPU time. 'beforeExit' only fires when
 * nothing is pending, and what the CLIs print is written synchronously, so nothing is cut short.
 */
function exitWhenDone() {
  process.on('beforeExit', () => process.exit());
}

/** The bundle as one script, compiled the same way by launch and by the cache build. */
function compile(name, cachedData) {
  const file = join(__dirname, '..', 'dist', `${name}.js`);
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), {
    filename: file,
    cachedData,
    // No importModuleDynamically: Node 20 needs --experimental-vm-modules for it and drops it with a
    // code cache. The build turns every import() of a builtin into a require (scripts/build.mjs).
  });
  return { file, script };
}

/** Run dist/<name>.js and return its exports; `keepAlive`: a server, which ends itself. */
module.exports = function launch(name, { keepAlive = false } = {}) {
  let cachedData;
  try {
    cachedData = readFileSync(join(__dirname, '..', 'dist', `${name}.js.cache`));
  } catch {
    // no cache: compile
  }
  const { file, script } = compile(name, cachedData);
  const mod = { exports: {}, filename: file, id: file, loaded: false };
  script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, join(file, '..'));
  if (!keepAlive) exitWhenDone();
  return mod.exports;
};
module.exports.compile = compile;
module.exports.exitWhenDone = exitWhenDone;
