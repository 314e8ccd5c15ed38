import { z } from 'zod';

/**
 * The config file's schema: the one source for validation, the TypeScript types, and the JSON Schema
 * published for editors. Keys are kebab-case, as in most TOML files; {@link toPolicy} and the assembly
 * read the parsed values. Every key documents itself (`describe`), which the JSON Schema carries.
 */

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a name of letters, digits, ".", "_" and "-"');

/**
 * The sources of one secret, exactly one of which is set (at most one when the secret is optional): the
 * value itself, a command printing it, or an environment variable holding it. An extra source is
 * reported at its own key, so the error names the line to delete.
 */
function checkSources(
  ctx: z.core.$RefinementCtx,
  object: Record<string, unknown>,
  keys: readonly string[],
  required: boolean,
  what: string,
): void {
  const set = keys.filter((k) => object[k] !== undefined);
  if (set.length > 1 || (required && set.length === 0))
    ctx.addIssue({
      code: 'custom',
      path: set.length ? [set[1]!] : [],
      message:
        set.length === 0
          ? `${what} needs one of ${keys.slice(0, -1).join(', ')} or ${keys.at(-1)}`
          : `only one of ${keys.join(', ')} may be set (found ${set.join(', ')})`,
    });
}

const REFRESH_TOKEN_SOURCES = ['refresh-token', 'refresh-token-command', 'refresh-token-env'] as const;
const CLIENT_SECRET_SOURCES = ['client-secret', 'client-secret-command', 'client-secret-env'] as const;

const oauth2 = z
  .strictObject({
    'token-url': z.url().describe("The provider's OAuth2 token endpoint."),
    'client-id': z.string().min(1),
    'client-secret': z
      .string()
      .optional()
      .describe('The client secret itself, for a confidential client. Prefer client-secret-command.'),
    'client-secret-command': z
      .string()
      .min(1)
      .optional()
      .describe('A shell command printing the client secret on its first line.'),
    'client-secret-env': z
      .string()
      .min(1)
      .optional()
      .describe('An environment variable holding the client secret.'),
    'refresh-token': z
      .string()
      .min(1)
      .optional()
      .describe('The refresh token itself; access tokens are fetched from it. Prefer refresh-token-command.'),
    'refresh-token-command': z
      .string()
      .min(1)
      .optional()
      .describe('A shell command printing the refresh token on its first line.'),
    'refresh-token-env': z
      .string()
      .min(1)
      .optional()
      .describe('An environment variable holding the refresh token.'),
  })
  .superRefine((table, ctx) => {
    checkSources(ctx, table, REFRESH_TOKEN_SOURCES, true, 'oauth2');
    checkSources(ctx, table, CLIENT_SECRET_SOURCES, false, 'oauth2');
  })
  .describe(
    'XOAUTH2 login with an access token refreshed from a refresh token: one of refresh-token, refresh-token-command, refresh-token-env, and for a confidential client one of client-secret, client-secret-command, client-secret-env.',
  );

export const imapAccountSchema = z
  .strictObject({
    type: z.literal('imap'),
    host: z.string().min(1).describe('Server host name.'),
    port: z.int().min(1).max(65535).optional().describe('Default 993 for tls = "implicit", else 143.'),
    tls: z
      .enum(['implicit', 'starttls', 'none'])
      .default('implicit')
      .describe('"implicit" (IMAPS), "starttls" (required, never downgraded) or "none".'),
    user: z.string().min(1),
    password: z.string().optional().describe('The password itself. Prefer password-command.'),
    'password-command': z
      .string()
      .optional()
      .describe('A shell command printing the password on its first line (mbsync PassCmd).'),
    'password-env': z.string().optional().describe('An environment variable holding the password.'),
    oauth2: oauth2.optional(),
    'ca-file': z.string().optional().describe('PEM file of a CA to trust besides the system ones.'),
    fingerprint: z
      .string()
      .optional()
      .describe('Pin the server certificate: "sha256:AB:CD:…" of the DER certificate.'),
    'allow-plaintext-password': z
      .boolean()
      .default(false)
      .describe(
        'Allow tls = "none" with a host that is not loopback. The password crosses the network in clear.',
      ),
    timeout: z
      .int()
      .min(1)
      .max(3600)
      .default(20)
      .describe(
        'Seconds the server may stay silent while a command waits for its answer before the connection is given up as stalled (mbsync Timeout). Default 20.',
      ),
    connections: z
      .int()
      .min(1)
      .max(64)
      .default(4)
      .describe(
        "IMAP connections a sync may open to this server at once: up to this many of the folders synced at the same time (the pair's concurrency, default 8) each work on a connection of their own, so they neither wait for nor disturb one another; the others wait for a free one, while the other side and the state already work for them. Connections beyond the first close a minute after they fall idle. Servers limit connections per user (Dovecot: 10 per IP), counting twinboxd's watch-connections too. Default 4.",
      ),
    'watch-connections': z
      .int()
      .min(0)
      .max(64)
      .default(4)
      .describe(
        "Connections twinboxd may open to this server to hear of changes as they happen: NOTIFY needs one for every folder, IDLE one per watched folder (the pair's watch list). 0: no push, the daemon's full pass only. Default 4.",
      ),
    'watch-poll': z
      .number()
      .min(0)
      .max(3600)
      .default(0.5)
      .describe(
        "Seconds between two NOOPs on each of twinboxd's watch connections while the account is active (a change in the last two minutes): a server that holds its notifications back (Dovecot: 0.5 s after a change) reports at once what it holds when asked, so changes are heard sooner. A quiet account's connections send a NOOP every watch-quiet-poll seconds instead. An unanswered NOOP (see timeout) counts as a dropped connection. 0: only wait to be told. Default 0.5.",
      ),
    'watch-quiet-poll': z
      .number()
      .min(0.1)
      .max(3600)
      .default(2)
      .describe(
        "Seconds between two NOOPs on each of twinboxd's watch connections while the account is quiet (no change in the last two minutes): the check that a connection is alive, and how late at most a change the server failed to report is heard. Dovecot's NOTIFY misses changes in folders other than INBOX for up to 30 s after it rotates an internal log, unless asked. Never more often than watch-poll; ignored when that is 0. Default 2.",
      ),
  })
  .superRefine((account, ctx) =>
    checkSources(
      ctx,
      account,
      ['password', 'password-command', 'password-env', 'oauth2'],
      true,
      'an IMAP account',
    ),
  );

export const maildirAccountSchema = z.strictObject({
  type: z.literal('maildir'),
  path: z.string().min(1).describe('Root directory of the Maildir tree; "~" is the home directory.'),
  layout: z
    .enum(['maildir++', 'fs'])
    .default('maildir++')
    .describe(
      '"maildir++": inbox at the root, folders as .A.B; "fs": one directory per level, inbox at INBOX.',
    ),
  separator: z
    .string()
    .length(1)
    .default('.')
    .describe('Maildir++ only: what joins levels in a directory name.'),
  inbox: z.string().optional().describe('Directory of the inbox, when elsewhere than the layout puts it.'),
  fsync: z
    .boolean()
    .default(true)
    .describe('false skips fsync (mbsync FSync no): faster, but a power loss may lose recent mail.'),
  'folder-names': z
    .enum(['utf-8', 'modified-utf-7'])
    .default('utf-8')
    .describe(
      'How folder names are spelled on disk: "utf-8", or "modified-utf-7" as Dovecot (without :UTF-8), mbsync and OfflineIMAP write them.',
    ),
});

export const accountSchema = z.discriminatedUnion('type', [imapAccountSchema, maildirAccountSchema], {
  error: 'type must be "imap" or "maildir"',
});

const operation = z.enum(['new', 'flags', 'deletions', 'folder-creation', 'folder-deletion']);

export const pairSchema = z.strictObject({
  left: name.describe('The account on the left.'),
  right: name.describe('The account on the right.'),
  folders: z
    .array(z.string().min(1))
    .default(['*'])
    .describe(
      'Folder patterns, by left-side name with "/" between levels: "*" matches anything, "%" anything but "/", and "!" before a pattern excludes. The last matching pattern decides.',
    ),
  rename: z
    .record(z.string().min(1), z.string().min(1))
    .default({})
    .describe('Left folder name = right folder name, for folders named differently on each side.'),
  direction: z
    .enum(['both', 'left-to-right', 'right-to-left'])
    .default('both')
    .describe('Which way changes flow.'),
  sync: z
    .array(operation)
    .default(['new', 'flags', 'deletions', 'folder-creation', 'folder-deletion'])
    .describe('What propagates (mbsync Sync/Create/Remove/Expunge).'),
  'max-size': z
    .union([
      z.int().min(1),
      z
        .string()
        .regex(
          /^\s*\d+(\.\d+)?\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i,
          'a size such as "10MB", "500k" or 1048576',
        ),
    ])
    .optional()
    .describe(
      'Messages larger than this are not copied (mbsync MaxSize): a number of bytes, or "10MB", "500k".',
    ),
  'max-age': z
    .union([
      z.int().min(1),
      z.string().regex(/^\s*\d+\s*(d|w|y)\s*$/i, 'an age such as "90d", "12w", "1y" or a number of days'),
    ])
    .optional()
    .describe(
      'New messages that arrived longer ago than this are not copied (OfflineIMAP maxage): a number of days, or "90d", "12w", "1y". Messages already synced keep syncing flags and deletions.',
    ),
  watch: z
    .array(z.string().min(1))
    .default(['INBOX'])
    .describe(
      'Folders twinboxd watches with IMAP IDLE when a server lacks NOTIFY, by left-side name, as patterns like folders (one connection each, up to the account\'s watch-connections). With NOTIFY, and on a Maildir, every folder is watched. Default ["INBOX"].',
    ),
  conflicts: z
    .strictObject({
      flags: z
        .enum(['merge', 'left', 'right'])
        .default('merge')
        .describe('Both sides changed flags: merge flag by flag, or take one side.'),
      'delete-vs-change': z
        .enum(['keep', 'delete'])
        .default('keep')
        .describe('Deleted on one side, changed on the other: keep it, or let the deletion win.'),
    })
    .default({ flags: 'merge', 'delete-vs-change': 'keep' }),
});

/**
 * The zod schema of a config file's TOML (kebab-case keys, as users write them); `parseConfig` and
 * `loadConfig` validate with it, `configJsonSchema()` publishes it for editors.
 */
export const configSchema = z
  .strictObject({
    state: z
      .strictObject({
        dir: z
          .string()
          .optional()
          .describe('Where each pair keeps its state database. Default $XDG_STATE_HOME/twinbox.'),
      })
      .default({}),
    // "auto" by default: three threads cost a one-shot sync after the first more CPU, memory and time
    // than the little work it has to do (bench/README.md, "A sync without a daemon").
    workers: z
      .enum(['auto', 'threads', 'inline'])
      .default('auto')
      .describe(
        '"threads": each side and the state in a worker thread; "inline": all in one thread; "auto" (the default): threads for the first sync of a pair (no state yet, every message to copy), inline for the syncs after it.',
      ),
    // 4 against 1: the daemon's no-op and server batch, and the CLI's, all faster (bench/README.md,
    // daemon.mjs's "Latest results"). 8 against 4: twinboxd's sync of a server batch 108 ms against
    // 124-136 (bench/daemon.mjs --concurrency), a first sync's peak RSS unchanged (213 MB against 208,
    // compare.mjs --concurrency): folders beyond the IMAP connections wait for one there, while the
    // Maildir and the state work for them meanwhile.
    concurrency: z
      .int()
      .min(1)
      .max(16)
      .default(8)
      .describe('Folders synced at once per pair (1: one after another).'),
    daemon: z
      .strictObject({
        'full-pass': z
          .int()
          .min(10)
          .default(300)
          .describe(
            'Seconds between two full passes of a pair (every folder), the safety net for changes that notifications miss, and the only sync of an account that cannot be watched. Default 300.',
          ),
        'pairs-at-once': z
          .int()
          .min(1)
          .max(256)
          .default(8)
          .describe('Pairs twinboxd syncs at the same time; the others wait their turn. Default 8.'),
        'side-threads': z
          .int()
          .min(1)
          .max(64)
          .default(2)
          .describe(
            'Worker threads that run the sides of every pair (each serves many sides); the states of all pairs share one more. Default 2.',
          ),
      })
      .default({ 'full-pass': 300, 'pairs-at-once': 8, 'side-threads': 2 })
      .describe('How twinboxd runs the pairs; the twinbox command ignores this table.'),
    accounts: z.record(name, accountSchema).describe('The mail stores, by name.'),
    pairs: z.record(name, pairSchema).default({}).describe('What to keep in sync: two accounts each.'),
  })
  .superRefine((config, ctx) => {
    for (const [pairName, pair] of Object.entries(config.pairs)) {
      for (const side of ['left', 'right'] as const) {
        if (!(pair[side] in config.accounts))
          ctx.addIssue({
            code: 'custom',
            path: ['pairs', pairName, side],
            message: `no account named ${JSON.stringify(pair[side])} (accounts: ${Object.keys(config.accounts).join(', ') || 'none'})`,
          });
      }
      if (pair.left === pair.right)
        ctx.addIssue({
          code: 'custom',
          path: ['pairs', pairName, 'right'],
          message: 'left and right must be two different accounts',
        });
    }
  });

/** A whole config as `configSchema` gives it after validation: defaults filled in, paths as written. */
export type TwinboxConfig = z.output<typeof configSchema>;
/** One `[accounts.<name>]` table: an IMAP account or a Maildir, told apart by `type`. */
export type AccountConfig = z.output<typeof accountSchema>;
/** An account with `type = "imap"`: server, login and credential source. */
export type ImapAccountConfig = z.output<typeof imapAccountSchema>;
/** An account with `type = "maildir"`: the tree's path, layout and spelling of folder names. */
export type MaildirAccountConfig = z.output<typeof maildirAccountSchema>;
/** One `[pairs.<name>]` table: its two accounts, the folders it syncs and its policy. */
export type PairConfig = z.output<typeof pairSchema>;

/** The config's JSON Schema (draft 2020-12), for editors (taplo, VS Code "Even Better TOML"). */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://twinbox.dev/config.schema.json',
    title: 'Twinbox configuration',
  };
}
