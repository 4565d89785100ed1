// Build step run by `npm install` (prepare) and `npm test`: compile the JSON Schemas to standalone
// validators, then bundle each CLI into one CommonJS file so that start-up reads one script.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const schemas = join(root, 'scripts', 'compile-schemas.mjs');
if (existsSync(schemas)) {
  const { compileSchemas } = await import(pathToFileURL(schemas).href);
  await compileSchemas();
}

const entries = [
  ['src/cli/skiff-bundle.ts', 'dist/skiff.js'],
  ['src/cli/dock.ts', 'dist/dock.js'],
  // dock's network helper processes (src/engine/network): each runs on its own, node builtins only.
  ['src/engine/network/dns-server.ts', 'dist/dock-dns.js'],
  ['src/engine/network/port-proxy.ts', 'dist/dock-proxy.js'],
  // The systemd cgroup driver's D-Bus client, a worker thread (src/runtime/cgroups/systemd-bus.ts).
  // A tree whose node_modules predates the D-Bus library still builds everything else.
  ['src/runtime/cgroups/systemd-worker.ts', 'dist/skiff-systemd-bus.js', 'node_modules/@jellybrick/dbus-next'],
].filter(([src, , needs]) => {
  if (needs && !existsSync(join(root, needs))) {
    console.warn(`build: ${needs} is missing, so ${src} (--systemd-cgroup) is not built: run npm install`);
    return false;
  }
  return existsSync(join(root, src));
});

// Node builtins that cost milliseconds each to load (child_process alone pulls in net, dgram and
// the streams) and that most calls never touch: commander requires child_process for a feature the
// CLIs do not use, the systemd driver worker_threads, a terminal tty. Each import of one becomes an
// object of getters that loads the builtin on the first property read; the names are this Node's.
// A dynamic import() of any builtin becomes the same object: the CLIs run as a vm.Script with a code
// cache (bin/launch.js), where import() would need --experimental-vm-modules.
const LAZY_BUILTINS = ['child_process', 'worker_threads', 'tty', 'crypto', 'net', 'dgram', 'http', 'https', 'zlib', 'readline'];
// The same for a native package only some commands use (xattrs of layers: build, diff, unpack).
const LAZY_PACKAGES = ['@napi-rs/xattr'];
const requireHere = createRequire(import.meta.url);
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const lazy = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      if (args.namespace === 'lazy-builtin') return { path: args.path, external: true };
      const name = args.path.replace(/^node:/, '');
      if (!builtinModules.includes(name) || (args.kind !== 'dynamic-import' && !lazy.test(args.path))) return undefined;
      return { path: name, namespace: 'lazy-builtin' };
    });
    b.onResolve({ filter: new RegExp(`^(${LAZY_PACKAGES.join('|')})$`) }, (args) => {
      if (args.namespace === 'lazy-builtin') return { path: args.path, external: true };
      // A package that cannot load here (its native part missing) stays a plain external require.
      try {
        requireHere(args.path);
      } catch {
        return { path: args.path, external: true };
      }
      return { path: args.path, namespace: 'lazy-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, async ({ path }) => {
      const spec = LAZY_PACKAGES.includes(path) ? path : `node:${path}`;
      const exported = LAZY_PACKAGES.includes(path) ? requireHere(spec) : await import(spec);
      const names = Object.keys(exported).filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
      const getters = names.map((k) => `get ${k}() { return load().${k}; }`).join(',\n');
      return { contents: `let m;\nconst load = () => m || (m = require('${spec}'));\nmodule.exports = {\n${getters}\n};\n`, loader: 'js' };
    });
  },
};

// Outputs are written beside their final name and renamed into place, so that a skiff running
// while a build happens never reads half a bundle.
await Promise.all(
  entries.map(async ([src, out]) => {
    const result = await build({
      entryPoints: [join(root, src)],
      outfile: join(root, out),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'linked',
      // Smaller source parses faster: start-up is paid on every runtime call.
      minify: true,
      keepNames: true,
      // Native modules are loaded from disk at run time, never bundled; better-sqlite3's JavaScript
      // is (src/engine/store/db.ts names its addon).
      external: ['@napi-rs/xattr', '*.node'],
      plugins: [lazyBuiltins],
      logLevel: 'warning',
      write: false,
      metafile: true,
    });
    // bin/launch.js runs the bundle as a vm.Script: an import() left in it would fail at run time.
    for (const [name, output] of Object.entries(result.metafile.outputs))
      for (const i of output.imports) if (i.kind === 'dynamic-import' && i.external) throw new Error(`build: ${name} keeps import('${i.path}'): bundle it or require() it`);
    mkdirSync(join(root, 'dist'), { recursive: true });
    for (const file of result.outputFiles) {
      const tmp = `${file.path}.${process.pid}.tmp`;
      writeFileSync(tmp, file.contents);
      renameSync(tmp, file.path);
    }
  }),
);

// Man pages, one per command, from the CLIs' own command definitions (their hidden `_man` command):
// dist/man/man1/dock-run.1 and so on. `man` finds them through an npm global install (package.json's
// directories.man) or MANPATH=$PWD/dist/man in a checkout (README).
// Through bin/NAME.js: dist/skiff.js only exports the CLI (the warm server shares the bundle).
for (const name of ['dock', 'skiff']) {
  if (!existsSync(join(root, 'dist', `${name}.js`))) continue;
  const r = spawnSync(process.execPath, [join(root, 'bin', `${name}.js`), '_man', join(root, 'dist', 'man', 'man1')], { stdio: ['ignore', 'ignore', 'inherit'], env: { PATH: process.env.PATH } });
  if (r.status !== 0) console.warn(`build: the man pages of ${name} were not written (status ${r.status})`);
}

// V8 code cache of each CLI's whole bundle (bin/launch.js loads it; scripts/code-cache.cjs).
for (const name of ['skiff', 'dock']) {
  if (!existsSync(join(root, 'dist', `${name}.js`))) continue;
  spawnSync(process.execPath, [join(root, 'scripts', 'code-cache.cjs'), name], { stdio: 'ignore', env: { PATH: process.env.PATH } });
}
