import { parentPort, workerData } from 'node:worker_threads';
import { methodNames, type Reply, type Request, serializeError } from './protocol.js';

/**
 * The worker thread's side: imports the component module, builds the component with the caller's
 * arguments, and serves calls until told to close.
 */
async function main() {
  const port = parentPort;
  if (!port) throw new Error('@twinbox/worker-runtime host must run in a worker thread');
  const { moduleUrl, args } = workerData as { moduleUrl: string; args: unknown };
  const send = (reply: Reply) => port.postMessage(reply);
  let component: Record<string, (...a: unknown[]) => unknown>;
  try {
    const mod = await import(moduleUrl);
    component = await mod.default(args);
  } catch (err) {
    send({ kind: 'init-failed', error: serializeError(err) });
    return;
  }
  port.on('message', async (req: Request) => {
    if (req.kind === 'close') {
      try {
        await component.close?.();
      } finally {
        send({ kind: 'closed' });
        port.close();
      }
      return;
    }
    try {
      const fn = component[req.method];
      if (typeof fn !== 'function') throw new TypeError(`The component has no method ${req.method}`);
      send({ kind: 'result', id: req.id, value: await fn.apply(component, req.args) });
    } catch (err) {
      send({ kind: 'error', id: req.id, error: serializeError(err) });
    }
  });
  send({ kind: 'ready', methods: methodNames(component) });
}

void main();
