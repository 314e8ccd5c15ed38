import { utimes } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Makes a folder look long unchanged, so that its stamp proves it (see scan.ts's freshness window):
 * `new/`, `cur/` and, where there is one, `dovecot-keywords`, which the stamp covers too.
 */
export async function age(dir: string): Promise<void> {
  const past = 1_700_000_000;
  await utimes(join(dir, 'new'), past, past);
  await utimes(join(dir, 'cur'), past, past);
  await utimes(join(dir, 'dovecot-keywords'), past, past).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
