// Run with Node 22.18 or newer (which runs TypeScript as is):
//   IMAP_HOST=imap.example.org IMAP_USER=me IMAP_PASSWORD_COMMAND='pass show mail' MAILDIR=~/Mail \
//     node src/main.ts
import { defaultStatePath } from '@twinbox/state-sqlite';
import { imapToMaildir } from './imap-to-maildir.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`Set ${name}.`);
  return value;
};
const report = await imapToMaildir(
  { host: env('IMAP_HOST'), user: env('IMAP_USER'), passwordCommand: env('IMAP_PASSWORD_COMMAND') },
  env('MAILDIR'),
  defaultStatePath('imap-to-maildir'), // ~/.local/state/twinbox/imap-to-maildir.sqlite
);
console.log(report.totals);
process.exitCode = report.totals.errors > 0 ? 1 : 0;
