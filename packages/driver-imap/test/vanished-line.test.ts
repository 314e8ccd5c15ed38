import { describe, expect, it } from 'vitest';
import { readableVanished } from '../src/fetch-rows.js';

const atom = (value: string) => ({ type: 'ATOM', value });

describe('readableVanished: a VANISHED line imapflow reads whole', () => {
  it.each([
    ['a UID', [atom('7')]],
    ['a set of UIDs and ranges', [atom('1:3,5,9:12')]],
    ['(EARLIER) and a set', [[atom('EARLIER')], atom('4:6')]],
    ['(earlier) in lower case', [[atom('earlier')], atom('4')]],
  ])('takes %s', (_, attributes) => {
    expect(readableVanished({ attributes })).toBe(true);
  });

  it.each([
    ['no attributes', []],
    ['(EARLIER) without a set', [[atom('EARLIER')]]],
    ['a set with a letter in it', [[atom('EARLIER')], atom('2x')]],
    ['UID 0', [atom('0')]],
    ['a range with no end', [atom('3:')]],
    ['another tag than EARLIER', [[atom('LATER')], atom('2')]],
    ['two sets', [atom('1'), atom('2')]],
    ['a set that is not text', [{ type: 'ATOM', value: 5 }]],
  ])('refuses %s', (_, attributes) => {
    expect(readableVanished({ attributes })).toBe(false);
  });
});
