import { describe, expect, it } from 'vitest';
import { astring, CommandReader, inSet, type RawCommand, textOf, tokenize } from '../src/wire.js';

describe('the command reader', () => {
  it('joins a command split by literals, and asks to continue only for synchronising ones', () => {
    const commands: RawCommand[] = [];
    let continues = 0;
    const reader = new CommandReader(
      (c) => commands.push(c),
      () => continues++,
    );
    reader.push(Buffer.from('a1 APPEND "INBOX" (\\Seen) {5}\r\nhel'));
    reader.push(Buffer.from('lo\r\na2 LOGIN {4+}\r\nuser pass\r\n'));
    expect(continues).toBe(1);
    expect(commands).toHaveLength(2);
    expect(commands[0]?.literals.map((l) => l.toString())).toEqual(['hello']);
    const tokens = tokenize(commands[0]!.text.slice(10), commands[0]!.literals);
    expect(textOf(tokens[0])).toBe('INBOX');
    expect((tokens[1] as unknown[]).length).toBe(1);
    expect(textOf(tokens[2])).toBe('hello');
  });

  it('keeps a fetch item with brackets, spaces and parentheses as one atom', () => {
    const tokens = tokenize('1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)] FLAGS)', []);
    expect(textOf(tokens[0])).toBe('1:*');
    expect((tokens[1] as unknown[]).map((t) => textOf(t as never))).toEqual([
      'UID',
      'BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]',
      'FLAGS',
    ]);
  });

  it('unescapes quoted strings', () => {
    expect(textOf(tokenize('"a\\"b\\\\c"', [])[0])).toBe('a"b\\c');
  });
});

describe('names and sets', () => {
  it('writes a name that cannot be quoted as a literal', () => {
    expect(astring('Work')).toBe('"Work"');
    expect(astring('a"b')).toBe('"a\\"b"');
    expect(astring('a\r\nb')).toBe('{4}\r\na\r\nb');
  });

  it('reads sets with ranges and stars, in either order', () => {
    const has = inSet('1:3,7,9:*', 12);
    expect([1, 2, 3, 4, 7, 8, 9, 12, 13].filter(has)).toEqual([1, 2, 3, 7, 9, 12]);
    expect([5, 6, 7].filter(inSet('7:5', 10))).toEqual([5, 6, 7]);
    expect(inSet('20:*', 12)(12)).toBe(true);
  });
});
