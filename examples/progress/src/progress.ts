import type { SyncEvent } from '@twinbox/core';

/**
 * Turns the engine's events into lines of progress, per folder: the copies its plan holds, each copy
 * batch as it lands, and the folder's outcome. These are the events the CLI draws its bars from; an
 * embedding program passes the returned function as `onEvent` to `sync`.
 *
 * `folder-done` may come without the others: a folder that failed before it was planned, a name a
 * store refused, or one with nothing to do (no `folder-planned` for an empty plan).
 */
export function progressLines(print: (line: string) => void): (event: SyncEvent) => void {
  const copies = new Map<string, { total: number; done: number; bytes: number }>();
  return (event) => {
    switch (event.type) {
      case 'folder-start':
        copies.set(event.key, { total: 0, done: 0, bytes: 0 });
        break;
      case 'folder-planned': {
        const total = event.plan.toLeft.copies.length + event.plan.toRight.copies.length;
        copies.set(event.key, { total, done: 0, bytes: 0 });
        if (total > 0) print(`${event.key}: ${total} to copy`);
        break;
      }
      case 'copied': {
        const folder = copies.get(event.key);
        if (!folder) break;
        folder.done += event.count;
        folder.bytes += event.bytes;
        print(`${event.key}: ${folder.done}/${folder.total} copied (${folder.bytes} bytes)`);
        break;
      }
      case 'folder-done': {
        copies.delete(event.key);
        const { action, copied, errors } = event.report;
        print(`${event.key}: ${action}, ${copied.toLeft + copied.toRight} copied, ${errors.length} errors`);
        break;
      }
    }
  };
}
