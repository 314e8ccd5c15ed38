import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { RunMode } from '../src/index.js';

export const modes: RunMode[] = ['inline', 'thread'];
export const fixture = (name: string) => new URL(`./fixtures/${name}.ts`, import.meta.url);

/** A port for a component's `args.probe`, and the events it posts on it. */
export function probe(): {
  port: MessagePort;
  events: unknown[];
  next(event: string): Promise<unknown>;
  close(): void;
} {
  const { port1, port2 } = new MessageChannel();
  const events: { event: string }[] = [];
  const waiting: { event: string; resolve(e: unknown): void }[] = [];
  port1.on('message', (e: { event: string }) => {
    events.push(e);
    for (const w of waiting.filter((w) => w.event === e.event)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(e);
    }
  });
  return {
    port: port2,
    events,
    next: (event) => {
      const seen = events.find((e) => e.event === event);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiting.push({ event, resolve }));
    },
    close: () => port1.close(),
  };
}

/** The MessagePorts and Workers this process holds open, for leak checks. */
export function openHandles(): { MessagePort: number; Worker: number } {
  const info = process.getActiveResourcesInfo();
  return {
    MessagePort: info.filter((r) => r === 'MessagePort').length,
    Worker: info.filter((r) => r === 'Worker').length,
  };
}

/**
 * The open MessagePorts and Workers once they are back to `expected` or fewer (an earlier test's may
 * still be closing), or after a second: a closed port's other end learns of it a few ticks later.
 */
export async function openHandlesSettle(expected: ReturnType<typeof openHandles>) {
  for (let i = 0; i < 100; i++) {
    const now = openHandles();
    if (now.MessagePort <= expected.MessagePort && now.Worker <= expected.Worker) return now;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return openHandles();
}

/** What a promise came to, without throwing: the value, or the error's name and message. */
export async function outcome(p: Promise<unknown>): Promise<{ value: unknown } | { error: Error }> {
  try {
    return { value: await p };
  } catch (error) {
    return { error: error as Error };
  }
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Full garbage collections, with pauses for V8 to sweep freed ArrayBuffers (it does so concurrently),
 * so memory measured next does not shrink as an earlier test's garbage is freed.
 */
export async function settleMemory(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}
