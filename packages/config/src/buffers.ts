import type { ActionOutcome, CopyItem, ReadResult } from '@twinbox/core';

/**
 * The buffers of message bodies that can be moved to another thread rather than copied: only a body
 * that owns its whole buffer. A view into a shared pool (Node's small Buffers) must not be moved, or
 * every other view into that pool would be emptied with it.
 */
export function movableBuffers(contents: readonly (ReadResult | undefined)[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const c of contents) {
    const body = c && 'body' in c ? c.body : undefined;
    if (!body || !(body.buffer instanceof ArrayBuffer)) continue;
    if (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength) buffers.add(body.buffer);
  }
  return [...buffers];
}

/**
 * Frees the bodies of a batch once they are written: only for items nothing else holds, such as a
 * component's arguments (cloned or moved to it, in a thread or inline), after the call that wrote them.
 * Nothing reads them again, but the memory of an
 * ArrayBuffer goes back only when V8 collects its object, and V8 lets some 64 MB of them pile up per
 * thread before it does: a first sync's writing side held up to 45 MB of bodies already written.
 * Detaching one (`transfer(0)`) frees its memory at once, for the next batch to reuse. Only buffers
 * whose every message was stored are freed: after a failure a write may still be under way on a
 * dying connection, and its bytes must stay valid until it ends.
 */
export function releaseWritten(items: readonly CopyItem[], outcomes: readonly ActionOutcome[]): void {
  const written = new Map<ArrayBuffer, boolean>();
  items.forEach((item, i) => {
    const { buffer } = item.content.body;
    if (!(buffer instanceof ArrayBuffer)) return;
    const outcome = outcomes[i];
    const ok = outcome?.ok === true && outcome.id === item.action.from;
    written.set(buffer, (written.get(buffer) ?? true) && ok);
  });
  for (const [buffer, ok] of written) {
    // ES2024's ArrayBuffer.prototype.transfer (Node 21+), typed by hand: the build's lib is ES2023.
    if (ok) (buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
  }
}
