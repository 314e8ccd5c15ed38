// Bundles the built CLI (tsc's dist/) and its worker entries into a few ES modules in dist/, so that
// `twinbox` and each of its worker threads start by reading a handful of files instead of resolving and
// loading ~450 modules one by one (most of a no-op sync's time on a slow machine):
//
//   dist/quick.mjs         `sync` and `status` through a running daemon (dist/bin.js tries it first),
//                          one file with all it needs but the two modules below
//   dist/twinbox.mjs       the program (dist/bin.js imports it after turning on the compile cache)
//   dist/tty-reporter.mjs  the progress bars, and dist/failure.mjs, the exit-code mapping: imported by
//                          quick.mjs when it needs them (a terminal, a failure)
//   dist/side-worker.mjs   a side: driver and controller (@twinbox/config's side component)
//   dist/state-worker.mjs  the state (@twinbox/state-sqlite's component)
//   dist/chunk-*.mjs       code they share (and the drivers, loaded when a side opens one)
//   dist/host.js           @twinbox/worker-runtime's thread host: the runtime starts every worker
//                          thread on `./host.js` next to its own code, here the bundle
//
// better-sqlite3 stays outside: it loads a native module found relative to its own files. Linked source
// maps chain through tsc's maps back to the TypeScript sources (node --enable-source-maps uses them).
// They carry those sources inline: they name files of the other packages and of dependencies, which
// the CLI's tarball cannot hold at those paths, so only inlined sources resolve once it is installed.
//
//   node scripts/bundle.mjs    (run by `pnpm run build` after tsc)
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const configDist = dirname(fileURLToPath(import.meta.resolve('@twinbox/config')));

// What bundled CommonJS (imapflow and its dependencies) needs in an ES module: `require` for Node's
// built-in modules.
const banner = `import { createRequire as __twinboxCreateRequire } from 'node:module';
const require = __twinboxCreateRequire(import.meta.url);`;

const common = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  external: ['better-sqlite3'],
  sourcemap: 'linked',
  sourcesContent: true,
  // No minifying: a stack trace without source maps still reads as the code it ran.
  minify: false,
  banner: { js: banner },
  logLevel: 'warning',
  metafile: true,
};

/**
 * The thread host: @twinbox/worker-runtime's, after turning on the compile cache in the thread (as
 * bin.js does in the main one; a worker thread does not inherit it), so the entry it imports next and
 * that entry's chunks, imapflow's among them, are not compiled again in every thread of every run.
 */
const workerHost = {
  name: 'worker-host',
  setup(b) {
    b.onResolve({ filter: /^twinbox:worker-host$/ }, () => ({ path: 'worker-host', namespace: 'twinbox' }));
    b.onLoad({ filter: /^worker-host$/, namespace: 'twinbox' }, async () => {
      const runtime = await b.resolve('@twinbox/worker-runtime', {
        resolveDir: configDist,
        kind: 'import-statement',
      });
      if (runtime.errors.length) return { errors: runtime.errors };
      const host = join(dirname(runtime.path), 'host.js');
      return {
        // The heap trace (src/heap-trace.ts, next to this file in dist/) only when asked for; a
        // variable, so esbuild leaves the import alone.
        contents: `import module from 'node:module';
module.enableCompileCache?.();
const heapTrace = './heap-trace.js';
if (process.env.TWINBOX_HEAP_TRACE) (await import(heapTrace)).traceHeap();
await import(${JSON.stringify(host)});
`,
        resolveDir: root,
        loader: 'js',
      };
    });
  },
};

/**
 * imapflow imports pino (some 10-15 ms to load, in every thread that opens an IMAP account) for the
 * logger it makes when it is given none. @twinbox/driver-imap always gives it one (`logger: false`), so
 * in these bundles pino is a logger that drops everything: it is never called, and if a later imapflow
 * did call it, it would log nothing rather than fail a sync.
 */
const noPino = {
  name: 'no-pino',
  setup(b) {
    b.onResolve({ filter: /^pino$/ }, (args) =>
      /[/\\]imapflow[/\\]/.test(args.importer) ? { path: 'pino', namespace: 'no-pino' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-pino' }, () => ({
      contents: `const silent = { level: 'silent', isLevelEnabled: () => false, child: () => silent };
for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace']) silent[level] = () => {};
export default function pino() {
  return silent;
}
`,
      loader: 'js',
    }));
  },
};

/**
 * imapflow imports, at its start, what two features Twinbox never uses need: `download()` (mailsplit,
 * a second copy of libmime as CommonJS that builds iconv's GBK tables when it loads, libqp, libbase64)
 * and connecting through a SOCKS or HTTP proxy (socks, ip-address; Twinbox has no proxy setting).
 * Loading them cost every thread that opens an IMAP account some milliseconds. In these bundles the two
 * modules are stand-ins that fail loudly if a later use of imapflow ever reached them.
 */
const imapflowUnused = {
  name: 'imapflow-unused',
  setup(b) {
    b.onResolve({ filter: /^\.\/(download|proxy-connection)\.js$/ }, (args) =>
      /[/\\]imapflow[/\\]/.test(args.importer)
        ? { path: args.path, namespace: 'imapflow-unused' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'imapflow-unused' }, (args) => ({
      contents: args.path.includes('download')
        ? `const unused = () => { throw new Error("imapflow's download() is not part of Twinbox's bundle"); };
export const downloadMessage = unused;
export const downloadMessageParts = unused;
`
        : `export function proxyConnection() {
  throw new Error('Twinbox does not connect through a proxy');
}
// Called on every socket: removes the handler proxyConnection sets on the sockets it makes, which here
// is none.
export function detachEarlyErrorHandler(socket) {
  if (socket && socket._earlyErrorHandler) {
    socket.removeListener('error', socket._earlyErrorHandler);
    socket._earlyErrorHandler = null;
  }
}
`,
      loader: 'js',
    }));
  },
};

/**
 * imapflow imports libmime, whose charset module builds iconv-lite's GBK tables and four more codecs
 * when it loads, and a decoder for Japanese charsets (encoding-japanese): some 8 ms of every thread that
 * opens an IMAP account, for the decoding of envelopes and body structures (libmime.decodeWords) that
 * Twinbox never fetches, and for download(), which is not in these bundles (see imapflowUnused). Here
 * imapflow gets libmime on its first use instead, and the Japanese decoder, which only download() uses,
 * is a stand-in that fails loudly.
 */
const imapflowLazyText = {
  name: 'imapflow-lazy-text',
  setup(b) {
    b.onResolve({ filter: /^libmime$/ }, (args) =>
      /[/\\]imapflow[/\\]/.test(args.importer)
        ? { path: 'libmime', namespace: 'lazy-libmime', pluginData: { resolveDir: dirname(args.importer) } }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-libmime' }, (args) => ({
      // require(), not import: esbuild then evaluates the bundled libmime when it is first called for.
      contents: `let loaded;
const libmime = () => (loaded ??= require('libmime').default);
export default new Proxy({}, { get: (_, key) => libmime()[key] });
`,
      resolveDir: args.pluginData.resolveDir,
      loader: 'js',
    }));
    b.onResolve({ filter: /^\.\/jp-decoder\.js$/ }, (args) =>
      /[/\\]imapflow[/\\]/.test(args.importer) ? { path: args.path, namespace: 'imapflow-jp' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'imapflow-jp' }, () => ({
      contents: `export class JPDecoder {
  constructor() {
    throw new Error("imapflow's Japanese charset decoder (download()) is not part of Twinbox's bundle");
  }
}
`,
      loader: 'js',
    }));
  },
};

/**
 * imapflow's list() sorts the folders it lists (and its guesses of special-use folders from their
 * names) with String#localeCompare, whose first call in a thread sets up ICU's collator: 7-11 ms of
 * every sync that lists an IMAP account's folders, measured. Twinbox orders folders by its own keys
 * and uses a special use only to show it (`twinbox folders`), so here those comparisons go by UTF-16
 * code units. The build fails if imapflow's list module no longer holds them, rather than silently
 * paying for the collator again.
 */
const imapflowListOrder = {
  name: 'imapflow-list-order',
  setup(b) {
    b.onLoad({ filter: /[/\\]imapflow[/\\]dist[/\\]esm[/\\]commands[/\\]list\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      let count = 0;
      const contents = source.replace(/([\w.]+)\.localeCompare\(/g, (_, left) => {
        count++;
        return `codeUnitOrder(${left}, `;
      });
      if (count === 0)
        throw new Error(`${args.path}: no localeCompare left to replace; check imapflowListOrder`);
      return {
        contents: `${contents}
function codeUnitOrder(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}
`,
        loader: 'js',
      };
    });
  },
};

/**
 * commander requires node:child_process when it loads, for subcommands that are programs of their own,
 * which Twinbox has none of; that module and what it pulls in cost every command line a few
 * milliseconds. Here commander gets it on first use instead.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[/\\]commander[/\\]/.test(args.importer)
        ? { path: args.path, namespace: 'lazy-child-process' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: `let loaded;
module.exports = new Proxy({}, { get: (_, key) => (loaded ??= require('node:child_process'))[key] });
`,
      loader: 'js',
    }));
  },
};

/** The modules quick.mjs imports only when it needs them: entries of the program's build. */
const QUICK_APART = ['tty-reporter', 'failure'];

// Outputs of an earlier build (chunk names change with their content).
for (const file of await readdir(dist)) {
  if (/\.mjs(\.map)?$/.test(file) || /^host\.js(\.map)?$/.test(file)) await rm(join(dist, file));
}

// The program and the state share code (the core), and the drivers stay in chunks of their own, loaded
// when a command opens one.
const main = await build({
  ...common,
  absWorkingDir: root,
  plugins: [noPino, imapflowUnused, imapflowLazyText, imapflowListOrder, lazyChildProcess],
  entryPoints: {
    twinbox: join(dist, 'program.js'),
    'state-worker': '@twinbox/state-sqlite/component',
    // What quick.mjs imports when it needs it.
    ...Object.fromEntries(QUICK_APART.map((name) => [name, join(dist, `${name}.js`)])),
  },
  splitting: true,
  outdir: dist,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
});
// A side apart: esbuild splits by file, so built with the program a side would share the config's
// chunk, zod and the config schema with it, and build that schema in every side thread for nothing.
// Its drivers are chunks of their own: a Maildir side never reads imapflow.
const side = await build({
  ...common,
  absWorkingDir: root,
  plugins: [noPino, imapflowUnused, imapflowLazyText, imapflowListOrder],
  entryPoints: { 'side-worker': join(configDist, 'side-component.js') },
  splitting: true,
  outdir: dist,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'side-chunk-[hash]',
});
// `sync` and `status` through a daemon, which bin.js tries before loading the program: one file, not
// split, since each module file more costs a no-op sync through the daemon ~0.5 ms to find, read and
// link (the ten chunks it was split into: ~5 ms). What it imports only when needed stays apart, in the
// entries of the program's build above: bundled in, the exit-code mapping would bring the config
// package's schema (zod) into every sync through the daemon.
const quickApart = {
  name: 'quick-apart',
  setup(b) {
    const names = new RegExp(`^\\./(${QUICK_APART.join('|')})\\.js$`);
    b.onResolve({ filter: names }, (args) => {
      if (args.kind !== 'dynamic-import')
        return {
          errors: [{ text: `${args.importer} imports ${args.path} statically: quick.mjs would hold it` }],
        };
      return { path: args.path.replace(/\.js$/, '.mjs'), external: true };
    });
  },
};
/**
 * Node's built-in modules as CommonJS (`require`, the banner's): imported as ES modules, each one's
 * namespace is built from all its exports, and `node:fs`'s include the lazy `promises`, which loads
 * fs/promises, readline and a dozen more internal modules (~2 ms) that a sync through a daemon never
 * uses.
 */
const builtinsRequired = {
  name: 'builtins-required',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      // The module's own require below stays Node's.
      args.kind === 'require-call' ? undefined : { path: args.path, namespace: 'builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};
const quick = await build({
  ...common,
  absWorkingDir: root,
  entryPoints: { quick: join(dist, 'quick.js') },
  plugins: [quickApart, builtinsRequired],
  outdir: dist,
  outExtension: { '.js': '.mjs' },
});
const host = await build({
  ...common,
  absWorkingDir: root,
  entryPoints: ['twinbox:worker-host'],
  plugins: [workerHost],
  outfile: join(dist, 'host.js'),
});

// The runtime's thread host is found by a file name in its code; if that ever changes, fail the build
// here rather than every threaded sync at run time.
const runtimeChunk = Object.entries(main.metafile.outputs).find(([, o]) =>
  Object.keys(o.inputs).some((i) => /worker-runtime\/dist\/index\.js$/.test(i)),
);
if (!runtimeChunk) throw new Error('bundle: @twinbox/worker-runtime is not in the bundle');
const code = await readFile(join(root, runtimeChunk[0]), 'utf8');
if (!code.includes('new URL("./host.js", import.meta.url)'))
  throw new Error(`bundle: ${runtimeChunk[0]} no longer starts threads on ./host.js; update this script`);

// esbuild writes code in ASCII (charset: 'ascii') but copies comments as they are. One non-ASCII
// character makes Node read a whole file as UTF-16 rather than Latin-1, about twice the time for the
// 2 MB imapflow chunk, in every thread that loads it: escape them (comments only, so nothing changes).
const builds = [main, side, quick, host];
for (const b of builds) {
  for (const file of Object.keys(b.metafile.outputs)) {
    if (file.endsWith('.map')) continue;
    const path = join(root, file);
    const text = await readFile(path, 'utf8');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range, to find what is not in it
    const ascii = text.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
    if (ascii !== text) await writeFile(path, ascii);
  }
}

const outputs = builds.flatMap((b) => Object.entries(b.metafile.outputs));
const files = outputs.filter(([f]) => !f.endsWith('.map'));
console.log(
  `bundle: ${files.length} files, ${Math.round(files.reduce((n, [, o]) => n + o.bytes, 0) / 1024)} KiB (source maps apart)`,
);
