import { MessagePort } from 'node:worker_threads';

// Kept on the port object itself, so that every copy of this package in a thread (a bundle may hold
// two: the thread host's and the component's) sees the same answer.
const CLOSED = Symbol.for('@twinbox/worker-runtime/port-closed');
type Watched = MessagePort & { [CLOSED]?: boolean };

/**
 * Starts watching the ports a component is given (its args, and their properties one level down) for
 * their other end closing. Node tells a port so only if it listens at that moment: a port whose other
 * end closed while its component was still loading (a state that refused to serve it, say) would never
 * learn of it, and `connectRemote` on it would wait forever. A watch neither starts the port (messages
 * stay queued for whoever listens later) nor keeps the thread alive.
 */
export function watchPorts(value: unknown): void {
  watch(value);
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
  for (const item of Array.isArray(value) ? value : Object.values(value)) watch(item);
}

function watch(value: unknown): void {
  if (!(value instanceof MessagePort)) return;
  const port = value as Watched;
  if (port[CLOSED] !== undefined) return;
  port[CLOSED] = false;
  port.once('close', () => {
    port[CLOSED] = true;
  });
}

/** Whether the other end of a watched port has closed (false for a port never watched). */
export function portClosed(port: MessagePort): boolean {
  return (port as Watched)[CLOSED] === true;
}
