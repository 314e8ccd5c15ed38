import { describe, expect, it } from 'vitest';
import { messageIdFromHeaders } from '../src/index.js';

describe('messageIdFromHeaders', () => {
  it('reads a folded Message-ID and stops at the end of the header block', () => {
    expect(messageIdFromHeaders('Subject: a\r\nMessage-ID:\r\n <x@y>\r\n\r\nbody')).toBe('<x@y>');
    expect(messageIdFromHeaders('Subject: a\n\nMessage-ID: <in-body@x>\n')).toBeNull();
    expect(messageIdFromHeaders(new TextEncoder().encode('message-id:   <a@b>  \n'))).toBe('<a@b>');
    expect(messageIdFromHeaders(undefined)).toBeNull();
  });
});
