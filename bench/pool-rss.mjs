// Memory of many trivial components: each in a thread of its own (`startComponent`, one thread each)
// against all of them on a pool of a few threads (`startPool`), in a fresh process per layout so
// neither inherits the other's heap. After every component is started and has answered one call:
// the process's RSS over a bare process's, and the time to start them all. Run after `pnpm build`.
//
//   node bench/pool-rss.mjs [--components 300] [--pool 4]
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';
import { startComponent, startPool } from '../packages/worker-runtime/dist/index.js';

const { values } = parseArgs({
  options: {
    components: { type: 'string', default: '300' },
    pool: { type: 'string', default: '4' },
    layout: { type: 'string' }, // internal: the child's layout
  },
});
const N = Number(values.components);
const POOL = Number(values.pool);
const component = new URL('./pool-rss-component.mjs', import.meta.url);
const MiB = 2 ** 20;

/** In the child: starts N components in `layout`, calls each once, prints what it cost. */
async function measure(layout) {
  const bare = process.memoryUsage().rss;
  const started = performance.now();
  let pool;
  let handles;
  if (layout === 'threads') {
    // Started a few at a time, as a daemon would start its pairs; all at once only adds contention.
    handles = [];
    for (let i = 0; i < N; i += 10) {
      const batch = Array.from({ length: Math.min(10, N - i) }, (_, j) =>
        startComponent(component, { args: { id: i + j } }),
      );
      handles.push(...(await Promise.all(batch)));
    }
  } else {
    pool = startPool({ size: POOL });
    handles = await Promise.all(
      Array.from({ length: N }, (_, id) => pool.start(component, { args: { id } })),
    );
  }
  const startMs = performance.now() - started;
  const answers = await Promise.all(handles.map((h, i) => h.api.ping(i)));
  const threads = new Set(answers.map((a) => a.threadId)).size;
  const wrong = answers.filter((a, i) => a.id !== i || a.n !== i + 1).length;
  if (wrong > 0) throw new Error(`${wrong} components answered wrongly`);
  const rss = process.memoryUsage().rss;
  const closedAt = performance.now();
  if (pool) await pool.close();
  else await Promise.all(handles.map((h) => h.close()));
  const closeMs = performance.now() - closedAt;
  console.log(JSON.stringify({ layout, threads, rssMiB: (rss - bare) / MiB, startMs, closeMs }));
}

if (values.layout) {
  await measure(values.layout);
} else {
  const run = async (layout) => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        new URL(import.meta.url).pathname,
        '--layout',
        layout,
        '--components',
        String(N),
        '--pool',
        String(POOL),
      ],
      { maxBuffer: 1 << 20 },
    );
    return JSON.parse(stdout);
  };
  const rows = [await run('threads'), await run('pool')];
  const [threads, pool] = rows;
  console.log(
    `${N} trivial components, node ${process.version}; RSS over a bare process, after one call each\n`,
  );
  console.log('| layout | threads | RSS (MiB) | per component (KiB) | start all (ms) | close all (ms) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const label = r.layout === 'threads' ? 'a thread each (startComponent)' : `a pool of ${POOL} (startPool)`;
    console.log(
      `| ${label} | ${r.threads} | ${r.rssMiB.toFixed(0)} | ${((r.rssMiB * 1024) / N).toFixed(0)} | ${r.startMs.toFixed(0)} | ${r.closeMs.toFixed(0)} |`,
    );
  }
  console.log(`\nthe pool uses ${(threads.rssMiB / pool.rssMiB).toFixed(1)}× less memory`);
}
