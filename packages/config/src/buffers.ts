import type { ReadResult } from '@twinbox/core';

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
