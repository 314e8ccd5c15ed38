/**
 * The worker entries the build bundles next to the CLI (scripts/bundle.mjs): each is one file with
 * everything its thread needs but SQLite's native module, so a worker starts without resolving and
 * loading a few hundred modules one by one. Both the bundled binary and the unbundled library find them
 * in `dist/`, as this module sits at its top either way; running from source (tests), the built ones.
 */
const base = import.meta.url.endsWith('.ts') ? new URL('../dist/', import.meta.url) : import.meta.url;

/** What `syncPair`'s `entries` option gets: the bundled state and side components. */
export const workerEntries = {
  state: new URL('./state-worker.mjs', base),
  side: new URL('./side-worker.mjs', base),
};
