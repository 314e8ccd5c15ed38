import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StateBackend } from '@twinbox/core';
import { describeStateConformance } from '@twinbox/core/testing';
import { startComponent } from '@twinbox/worker-runtime';
import type { SqliteState } from '../src/index.js';

const component = new URL('../dist/component.js', import.meta.url);

async function inThread(path: string): Promise<StateBackend> {
  const handle = await startComponent<SqliteState>(component, {
    mode: 'thread',
    args: { path, wait: true, timeoutMs: 5000 },
  });
  // Closing the state ends its thread too: the component's close() runs first, then the thread exits.
  return { ...handle.api, close: () => handle.close() } as StateBackend;
}

// The design's dedicated state worker: the same contract, across a thread boundary.
describeStateConformance(
  'SqliteState in a worker thread',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'twinbox-sqlite-thread-'));
    const path = join(dir, 'state.sqlite');
    return {
      state: await inThread(path),
      reopen: () => inThread(path),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { findPairs: true, renameFolderPairs: true },
);
