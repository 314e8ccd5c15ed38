import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// worker-runtime's README opens with src/count.ts: run as a reader would, with plain Node.
describe('the counter in a worker thread (worker-runtime README)', () => {
  it('prints what its comments promise and exits on its own once the component is closed', async () => {
    const script = fileURLToPath(new URL('../src/count.ts', import.meta.url));
    // A thread or port left open would keep the process alive until the timeout kills it.
    const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 10_000 });
    expect(stdout.trim().split('\n')).toEqual(['15', 'AbortError', 'true']);
  });
});
