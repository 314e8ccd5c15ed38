import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countBareLf, fromDisk, toDisk } from '../src/eol.js';

// The plain byte-by-byte definitions the fast versions must agree with.
function addCrToBareLf(data: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 10 && (i === 0 || data[i - 1] !== 13)) out.push(13);
    out.push(data[i]!);
  }
  return out;
}
function dropCrOfCrlf(body: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) if (!(body[i] === 13 && body[i + 1] === 10)) out.push(body[i]!);
  return out;
}
const hasBareLf = (b: Uint8Array) => b.some((x, i) => x === 10 && (i === 0 || b[i - 1] !== 13));
const isPureCrlf = (b: Uint8Array) => !hasBareLf(b) && b.every((x, i) => x !== 13 || b[i + 1] === 10);

// Bytes rich in CR and LF, so that every arrangement (CRLF, bare CR, bare LF, CRCRLF, at either end) shows up.
const bytes = fc
  .array(fc.oneof(fc.constantFrom(13, 10), fc.constantFrom(13, 10), fc.integer({ min: 0, max: 255 })), {
    maxLength: 200,
  })
  .map((a) => Uint8Array.from(a));
// Bodies as IMAP servers send them: lines of any bytes but CR and LF, ended by CRLF.
const crlfBody = fc
  .array(fc.array(fc.integer({ min: 0, max: 255 }).filter((b) => b !== 10 && b !== 13)), { maxLength: 20 })
  .map((lines) => Uint8Array.from(lines.flatMap((l) => [...l, 13, 10])));

describe('line endings', () => {
  it('every body comes back from its disk form and W = its length, whatever the bytes', () => {
    fc.assert(
      fc.property(bytes, (body) => {
        expect([...fromDisk(toDisk(body), body.length)]).toEqual([...body]);
      }),
      { numRuns: 3000 },
    );
  });

  it('a disk form as long as the body is the body itself (W = S means "as it is")', () => {
    fc.assert(
      fc.property(bytes, (body) => {
        const disk = toDisk(body);
        if (disk.length === body.length) expect([...disk]).toEqual([...body]);
        else expect(hasBareLf(body)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('a body with only CRLF line endings is stored with plain LF, as before', () => {
    fc.assert(
      fc.property(crlfBody, (body) => {
        expect(isPureCrlf(body)).toBe(true);
        const disk = toDisk(body);
        expect([...disk]).toEqual(dropCrOfCrlf(body));
        expect(disk.includes(13)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('a file whose W is not its size gets a CR before exactly the bare LFs, and countBareLf counts them', () => {
    fc.assert(
      fc.property(bytes, fc.option(fc.nat({ max: 400 }), { nil: undefined }), (data, w) => {
        fc.pre(w !== data.length);
        const out = fromDisk(data, w);
        expect([...out]).toEqual(addCrToBareLf(data));
        expect(out.length - data.length).toBe(countBareLf(data));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the ordinary cases cheap: no copy when nothing changes', () => {
    const lf = new TextEncoder().encode('Subject: x\n\nbody\n');
    expect(toDisk(lf)).toBe(lf);
    expect(fromDisk(lf, lf.length)).toBe(lf);
    const crlf = new TextEncoder().encode('a\r\r\nb\r\n');
    expect(fromDisk(crlf)).toBe(crlf);
  });

  it('keeps the CR before CR LF and drops the others', () => {
    const body = new TextEncoder().encode('a\r\nb\r\r\nc\r\r\r\n\r\n');
    expect(new TextDecoder().decode(toDisk(body))).toBe('a\nb\r\r\nc\r\r\r\n\n');
  });
});
