/**
 * The Message-ID header of a header block (or of a whole message: the search stops at the first empty
 * line), unfolded and trimmed; null when there is none. Header bytes are read as latin1, since a
 * Message-ID is ASCII and a broken 8-bit header elsewhere must not make this fail.
 */
export function messageIdFromHeaders(headers: Uint8Array | string | undefined): string | null {
  if (!headers) return null;
  let text = typeof headers === 'string' ? headers : new TextDecoder('latin1').decode(headers);
  const end = /\r?\n\r?\n/.exec(text);
  if (end) text = text.slice(0, end.index + 1);
  const unfolded = text.replace(/\r?\n[ \t]+/g, ' ');
  const match = /^message-id:[ \t]*(.*)$/im.exec(unfolded);
  const value = match?.[1]?.trim();
  return value ? value : null;
}
