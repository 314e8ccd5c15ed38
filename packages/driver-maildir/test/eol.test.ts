import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countBareLf, fromDisk, toDisk } from '../src/eol.js';

// The plain byte-by-byte definitions the fast versions must agree with.
function toDiskByBytes(body: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) if (!(body[i] === 13 && body[i + 1] === 10)) out.push(body[i]!);
  return out;
}
function fromDiskByBytes(data: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 10 && (i === 0 || data[i - 1] !== 13)) out.push(13);
    out.push(data[i]!);
  }
  return out;
}

// Bytes rich in CR and LF, so that every arrangement (CRLF, bare CR, bare LF, CRCRLF, at either end) shows up.
const bytes = fc
  .array(fc.oneof(fc.constantFrom(13, 10), fc.constantFrom(13, 10), fc.integer({ min: 0, max: 255 })), {
    maxLength: 200,
  })
  .map((a) => Uint8Array.from(a));

describe('line endings', () => {
  it('toDisk turns exactly the CRLF pairs into LF, whatever the bytes', () => {
    fc.assert(
      fc.property(bytes, (body) => {
        expect([...toDisk(body)]).toEqual(toDiskByBytes(body));
      }),
      { numRuns: 2000 },
    );
  });

  it('fromDisk adds a CR before exactly the bare LFs, and countBareLf counts them', () => {
    fc.assert(
      fc.property(bytes, (data) => {
        const out = fromDisk(data);
        expect([...out]).toEqual(fromDiskByBytes(data));
        expect(out.length - data.length).toBe(countBareLf(data));
      }),
      { numRuns: 2000 },
    );
  });

  it('a CRLF message survives the round trip, and one without CR is not copied', () => {
    const crlf = new TextEncoder().encode('Subject: x\r\n\r\nbody\r\nwith a bare \r inside\r\n');
    expect(fromDisk(toDisk(crlf))).toEqual(crlf);
    const lf = new TextEncoder().encode('Subject: x\n\nbody\n');
    expect(toDisk(lf)).toBe(lf);
  });
});
