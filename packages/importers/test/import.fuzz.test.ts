import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { importMbsync, importOfflineImap } from '../src/index.js';

/**
 * Fuzz tests of the readers of a file another tool's user wrote: whatever the text, the result is a
 * config and notes, never an exception. `TWINBOX_PROPERTY_RUNS` sets the number of runs.
 */
const RUNS = Number(process.env.TWINBOX_PROPERTY_RUNS ?? 1000);

describe('the importers under fuzzing', () => {
  const mbsyncLine = fc.oneof(
    fc.constantFrom(
      'IMAPAccount work',
      'IMAPStore work-remote',
      'MaildirStore local',
      'Channel work',
      'Account work',
      'Far :work-remote:',
      'Near :local:',
      'Patterns * !Trash',
      'Sync Pull New',
      'Create Both',
      'Expunge Both',
      'SSLType IMAPS',
      'Host imap.example.com',
      'User me',
      'PassCmd "pass show x"',
      'Path ~/Mail/',
      'Inbox ~/Mail/INBOX',
      'SubFolders Verbatim',
      'Group g',
      '',
    ),
    fc.tuple(fc.stringMatching(/^[A-Za-z]{1,12}$/), fc.string()).map(([k, v]) => `${k} ${v}`),
    fc.string(),
  );
  const offlineLine = fc.oneof(
    fc.constantFrom(
      '[general]',
      'accounts = work',
      '[Account work]',
      'localrepository = local',
      'remoterepository = remote',
      '[Repository local]',
      'type = Maildir',
      'localfolders = ~/Mail',
      '[Repository remote]',
      'type = IMAP',
      'remotehost = imap.example.com',
      'remoteuser = me',
      'remotepasseval = get_pass()',
      'folderfilter = lambda f: f != "Trash"',
      'nametrans = lambda f: f',
      'ssl = yes',
      '',
    ),
    fc.tuple(fc.stringMatching(/^[a-z_]{1,16}$/), fc.string()).map(([k, v]) => `${k} = ${v}`),
    fc.string(),
  );

  it('an mbsync file of any shape gives a config and notes, never an exception', () => {
    fc.assert(
      fc.property(fc.array(mbsyncLine, { maxLength: 30 }), (lines) => {
        const result = importMbsync(lines.join('\n'), { file: '/home/u/.mbsyncrc' });
        expect(typeof result.config).toBe('string');
        expect(Array.isArray(result.notes)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('an OfflineIMAP file of any shape gives a config and notes, never an exception', () => {
    fc.assert(
      fc.property(fc.array(offlineLine, { maxLength: 30 }), (lines) => {
        const result = importOfflineImap(lines.join('\n'), { file: '/home/u/.offlineimaprc' });
        expect(typeof result.config).toBe('string');
        expect(Array.isArray(result.notes)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
