import { parentPort, workerData } from 'node:worker_threads';
import { ComponentClosedError, serializeError } from './errors.js';
import { watchPorts } from './port-watch.js';
import type { Reply } from './protocol.js';
import { ComponentServer } from './server.js';

/**
 * The worker thread's side: imports the component module, builds the component with the caller's
 * arguments, and serves it on the parent port (and on every port `connect()` hands it) until told to
 * close.
 */
async function main() {
  const port = parentPort;
  if (!port) throw new Error('@twinbox/worker-runtime host must run in a worker thread');
  const { moduleUrl, args, name } = workerData as { moduleUrl: string; args: unknown; name: string };
  watchPorts(args);
  let component: Record<string, unknown>;
  try {
    const mod = await import(moduleUrl);
    component = await mod.default(args);
  } catch (err) {
    port.postMessage({ kind: 'init-failed', error: serializeError(err) } satisfies Reply);
    return;
  }
  const server = new ComponentServer(component, name);
  server.serve(port, (msg) => {
    if (msg.kind === 'connect') {
      if (server.isClosing) {
        const error = serializeError(new ComponentClosedError(`${name} is closed; cannot connect to it`));
        port.postMessage({ kind: 'error', id: msg.id, error } satisfies Reply);
        msg.port.close();
        return;
      }
      server.serve(msg.port);
      port.postMessage({ kind: 'result', id: msg.id, value: undefined } satisfies Reply);
      return;
    }
    server.close(msg.graceMs).then(
      () => port.postMessage({ kind: 'closed' } satisfies Reply),
      (err) => port.postMessage({ kind: 'closed', error: serializeError(err) } satisfies Reply),
    );
  });
}

void main();
