// A component module: its default export builds the component from the args it was started with.
import { currentSignal } from '@twinbox/worker-runtime';

export default function createCounter(args: { start: number }) {
  let total = args.start;
  return {
    add(n: number): number {
      total += n;
      return total;
    },
    /** Adds 1 every `stepMs` for `steps` steps, stopping early when its caller gives up. */
    async countSlowly(steps: number, stepMs: number): Promise<number> {
      const signal = currentSignal();
      for (let i = 0; i < steps && !signal.aborted; i++) {
        await new Promise((resolve) => setTimeout(resolve, stepMs));
        total += 1;
      }
      return total;
    },
  };
}
