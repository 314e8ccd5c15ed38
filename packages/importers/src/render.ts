import type { ImportNote } from './types.js';

/** What a pair propagates, as the `sync` key spells it. */
export type Operation = 'new' | 'flags' | 'deletions' | 'folder-creation' | 'folder-deletion';
export const OPERATIONS: readonly Operation[] = [
  'new',
  'flags',
  'deletions',
  'folder-creation',
  'folder-deletion',
];

export interface ImapDraft {
  type: 'imap';
  host: string;
  port?: number | undefined;
  tls: 'implicit' | 'starttls' | 'none';
  user: string;
  password?: string | undefined;
  'password-command'?: string | undefined;
  'password-env'?: string | undefined;
  /** The keys of the schema's oauth2 table: the token URL, the client id and the secrets' sources. */
  oauth2?: ({ 'token-url': string; 'client-id': string } & Record<string, string>) | undefined;
  'ca-file'?: string | undefined;
  fingerprint?: string | undefined;
  'allow-plaintext-password'?: boolean | undefined;
  /** Seconds a silent server is waited for (mbsync's Timeout). */
  timeout?: number | undefined;
  /** IMAP sessions a sync may open at once (OfflineIMAP's maxconnections). */
  connections?: number | undefined;
}

export interface MaildirDraft {
  type: 'maildir';
  path: string;
  layout: 'maildir++' | 'fs';
  separator?: string | undefined;
  inbox?: string | undefined;
  fsync?: boolean | undefined;
  'folder-names'?: 'utf-8' | 'modified-utf-7' | undefined;
}

export interface PairDraft {
  left: string;
  right: string;
  folders: string[];
  rename: Record<string, string>;
  direction: 'both' | 'left-to-right' | 'right-to-left';
  sync: Operation[];
  'max-size'?: string;
  /** Days, as OfflineIMAP's `maxage` gives them. */
  'max-age'?: number;
}

/** A table to write, with where it came from and a comment per key where one helps. */
export interface Drafted<T> {
  name: string;
  /** Comment lines above the table, e.g. `from IMAPAccount work + IMAPStore work-remote`. */
  from: string[];
  value: T;
  comments?: Partial<Record<string, string>>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * A config name (accounts, pairs: letters, digits, `.`, `_`, `-`) for a name from the other program,
 * unique among `taken`, which it joins.
 */
export function configName(source: string, taken: Set<string>): string {
  let base = NAME.test(source)
    ? source
    : source.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  if (!base) base = 'imported';
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  taken.add(name);
  return name;
}

function tomlString(value: string): string {
  const safe = value.replace(
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    '\uFFFD',
  );
  return JSON.stringify(safe).replace(/\x7f/g, '\\u007F');
}

function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : tomlString(key);
}

type TomlValue = string | number | boolean | readonly string[] | Readonly<Record<string, string>>;

function tomlValue(value: TomlValue): string {
  if (typeof value === 'string') return tomlString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => tomlString(v)).join(', ')}]`;
  const entries = Object.entries(value as Record<string, string>);
  return entries.length
    ? `{ ${entries.map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`).join(', ')} }`
    : '{}';
}

function comment(text: string, indent = ''): string {
  return text
    .split('\n')
    .map((line) => `${indent}# ${line}`.trimEnd())
    .join('\n');
}

function table(path: string[], drafted: Drafted<object>): string {
  const lines: string[] = [];
  for (const line of drafted.from) lines.push(comment(line));
  lines.push(`[${path.map(tomlKey).join('.')}]`);
  const nested: [string, Record<string, string>][] = [];
  for (const [key, value] of Object.entries(drafted.value)) {
    if (value === undefined) continue;
    if (key === 'rename' && Object.keys(value).length === 0) continue;
    if (key === 'oauth2') {
      nested.push([key, value as Record<string, string>]);
      continue;
    }
    const note = drafted.comments?.[key];
    lines.push(`${tomlKey(key)} = ${tomlValue(value as TomlValue)}${note ? `   ${comment(note)}` : ''}`);
  }
  for (const [key, value] of nested) {
    lines.push('', `[${[...path, key].map(tomlKey).join('.')}]`);
    for (const [k, v] of Object.entries(value))
      if (v !== undefined) lines.push(`${tomlKey(k)} = ${tomlValue(v)}`);
  }
  return lines.join('\n');
}

/** The config text: a header naming the source and repeating the warnings, then accounts, then pairs. */
export function renderConfig(input: {
  tool: string;
  file?: string | undefined;
  accounts: Drafted<ImapDraft | MaildirDraft>[];
  pairs: Drafted<PairDraft>[];
  notes: readonly ImportNote[];
}): string {
  const head = [
    `Imported by \`twinbox import ${input.tool}\`${input.file ? ` from ${input.file}` : ''}.`,
    'Check it with `twinbox check`, and `twinbox sync --dry-run` before the first sync.',
  ];
  const warnings = input.notes.filter((n) => n.level === 'warning');
  if (warnings.length) {
    head.push('', 'Not translated exactly (see each note):');
    for (const w of warnings) head.push(`- ${w.key}: ${w.message}`);
  }
  const parts = [head.map((line) => comment(line)).join('\n')];
  for (const account of input.accounts) parts.push(table(['accounts', account.name], account));
  for (const pair of input.pairs) parts.push(table(['pairs', pair.name], pair));
  return `${parts.join('\n\n')}\n`;
}
