import { describe, expect, it } from 'vitest';
import { vouches, WriteLog } from '../src/write-log.js';

const marker = { epoch: '7', value: '100' };

function logged() {
  const log = new WriteLog();
  log.listed('F', marker, 10);
  log.appended('F', 11, ['\\Seen']);
  log.appended('F', 12, []);
  log.removed('F', [3]);
  return log;
}

const ours = [
  { uid: 11, flags: new Set(['\\Seen', '\\Recent']) },
  { uid: 12, flags: new Set<string>() },
];

describe('WriteLog and vouches', () => {
  it('vouches for exactly its own appends (with their flags, \\Recent aside) and removals', () => {
    const writes = logged().writesSince('F', marker)!;
    expect(vouches(writes, ours, [3])).toBe(true);
    expect(vouches(writes, ours, [])).toBe(true);
  });

  it.each([
    ['a row of a message it did not append', [...ours, { uid: 5, flags: new Set<string>() }], [3]],
    ['an appended message with other flags', [ours[0]!, { uid: 12, flags: new Set(['\\Flagged']) }], []],
    ['an appended message missing from the rows', [ours[0]!], []],
    ['a row without a UID', [...ours, { flags: new Set<string>() }], []],
    ['a row without FLAGS', [...ours, { uid: 11 }], []],
    ['a UID vanished that it did not remove', ours, [4]],
    ['a row with a keyword no store can hold', [ours[0]!, { uid: 12, flags: new Set(['a(b']) }], []],
  ])('does not vouch for %s', (_, rows, vanished) => {
    expect(vouches(logged().writesSince('F', marker)!, rows, vanished)).toBe(false);
  });

  it('has nothing to check for another listing, an unsure folder, nothing written, or a forgotten one', () => {
    expect(logged().writesSince('F', { epoch: '7', value: '99' })).toBeUndefined();
    expect(logged().writesSince('F', { epoch: '8', value: '100' })).toBeUndefined();
    const unsure = logged();
    unsure.unsure('F');
    expect(unsure.writesSince('F', marker)).toBeUndefined();
    const quiet = new WriteLog();
    quiet.listed('F', marker, 10);
    expect(quiet.writesSince('F', marker)).toBeUndefined();
    const twice = logged();
    twice.appended('F', 12, []);
    expect(twice.writesSince('F', marker)).toBeUndefined();
    const gone = logged();
    gone.forget((name) => name === 'F');
    expect(gone.writesSince('F', marker)).toBeUndefined();
    // Listed again: what was logged against the older listing no longer counts.
    const relisted = logged();
    relisted.listed('F', { epoch: '7', value: '105' }, 12);
    expect(relisted.writesSince('F', { epoch: '7', value: '105' })).toBeUndefined();
  });

  it('logs nothing for a marker without a HIGHESTMODSEQ', () => {
    const log = new WriteLog();
    log.listed('F', { epoch: '7', value: 'nomodseq' }, 10);
    log.appended('F', 11, []);
    expect(log.writesSince('F', { epoch: '7', value: 'nomodseq' })).toBeUndefined();
  });
});
