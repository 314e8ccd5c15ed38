import { parentPort } from 'node:worker_threads';
import { ComponentClosedError, serializeError } from './errors.js';
import { portClosed, watchPorts } from './port-watch.js';
import type { HostReply, HostRequest, Reply } from './protocol.js';
import { ComponentServer } from './server.js';

/**
 * A host thread: for each `start` it is sent, imports the component module (the import system loads
 * each URL once), builds the component with the caller's arguments, and serves it on the port that
 * came with the request (and on every port `connect()` hands it) until told to close it. The thread
 * lives until its owner terminates it.
 */
function main() {
  const parent = parentPort;
  if (!parent) throw new Error('@twinbox/worker-runtime host must run in a worker thread');
  parent.on('message', (msg: HostRequest) => void host(msg));
  parent.postMessage({ kind: 'host-ready' } satisfies HostReply);
}

async function host({ moduleUrl, args, name, port }: HostRequest) {
  watchPorts(args);
  watchPorts(port);
  let component: Record<string, unknown>;
  try {
    const mod = await import(moduleUrl);
    component = await mod.default(args);
  } catch (err) {
    port.postMessage({ kind: 'init-failed', error: serializeError(err) } satisfies Reply);
    port.close();
    return;
  }
  const server = new ComponentServer(component, name);
  if (portClosed(port)) {
    // The caller stopped waiting (its start deadline passed) before the port was listened to.
    await server.close(0).catch(() => {});
    return;
  }
  // Its handle is gone without closing it (it gave up waiting for the start or for a close): nobody
  // can call it any more, so it is closed rather than left running in a thread shared with others.
  port.once('close', () => void server.close(0).catch(() => {}));
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
    const closed = (reply: Reply) => {
      port.postMessage(reply);
      port.close();
    };
    server.close(msg.graceMs).then(
      () => closed({ kind: 'closed' }),
      (err) => closed({ kind: 'closed', error: serializeError(err) }),
    );
  });
}

main();
