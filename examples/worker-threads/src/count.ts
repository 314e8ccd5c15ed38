// Run with Node 22.18 or newer, which runs TypeScript as is: node src/count.ts
import { setTimeout as sleep } from 'node:timers/promises';
import { startComponent } from '@twinbox/worker-runtime';
import type createCounter from './counter.ts';

const counter = await startComponent<ReturnType<typeof createCounter>>(
  new URL('./counter.ts', import.meta.url),
  {
    mode: 'thread', // or 'inline', for debugging: same contract
    args: { start: 10 },
    deadlineMs: 30_000, // default deadline of every call (none if omitted)
  },
);
try {
  console.log(await counter.api.add(5)); // 15, computed in the worker thread
  // This call only: cancellable, and given up after 5 s at the latest.
  const stop = new AbortController();
  const slow = counter.with({ signal: stop.signal, deadlineMs: 5_000 }).countSlowly(1_000, 10);
  setTimeout(() => stop.abort(), 50);
  console.log(await slow.catch((err: Error) => err.name)); // AbortError, at once
  // The component sees its signal abort at its next step and stops counting.
  await sleep(50);
  const stopped = await counter.api.add(0);
  await sleep(50);
  console.log((await counter.api.add(0)) === stopped); // true
} finally {
  await counter.close(); // ends the thread, so the process can exit
}
