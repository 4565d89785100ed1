'use strict';
// Save V8's code cache of a whole bundle (dist/NAME.js.cache, loaded by bin/launch.js). The bundle
// is compiled eagerly (--no-lazy), so the cache holds every function and no verb compiles its own
// path at run time (`skiff run` spends ~15 % less CPU than with a cache of start-up alone). The flag
// is restored before the cache is written: V8 accepts a cache only under the flags it runs with.
// Nothing of the CLI runs here. Usage: node scripts/code-cache.cjs NAME
const v8 = require('node:v8');
const { renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { compile } = require(join(__dirname, '..', 'bin', 'launch.js'));

const name = process.argv[2];
v8.setFlagsFromString('--no-lazy');
const { script } = compile(name);
v8.setFlagsFromString('--lazy');
const out = join(__dirname, '..', 'dist', `${name}.js.cache`);
writeFileSync(`${out}.${process.pid}.tmp`, script.createCachedData());
renameSync(`${out}.${process.pid}.tmp`, out);
