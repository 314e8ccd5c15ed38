// The component bench/pool-rss.mjs starts hundreds of: it holds nothing, so what is measured is the
// cost of where it runs (a thread of its own, or a share of a pool's).
import { threadId } from 'node:worker_threads';

export default function create(args) {
  return {
    ping(n) {
      return { id: args.id, n: n + 1, threadId };
    },
  };
}
