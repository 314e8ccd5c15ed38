import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Driver,
  parseFolderKey,
  resolvePolicy,
  type SideController,
  type SyncOptions,
  type SyncPolicy,
} from '@twinbox/core';
// The drivers, the state and the controller are imported when a pair is opened, not with this module:
// `twinbox --help` and a config check then load neither imapflow nor SQLite.
import { FolderRenames, folderMatcher, RenamedDriver } from './folders.js';
import type { LoadedConfig } from './load.js';
import { defaultStateDir } from './paths.js';
import type { AccountConfig, PairConfig, TwinboxConfig } from './schema.js';

/** Opens the store an account names. Throws the driver's StoreError when it cannot. */
export async function openDriver(account: AccountConfig): Promise<Driver> {
  if (account.type === 'maildir') {
    const { MaildirDriver } = await import('@twinbox/driver-maildir');
    return MaildirDriver.open({
      root: account.path,
      layout: account.layout,
      separator: account.separator,
      inbox: account.inbox,
      fsync: account.fsync,
      folderNames: account['folder-names'],
    });
  }
  const credentials = account.oauth2
    ? {
        oauth2: {
          tokenUrl: account.oauth2['token-url'],
          clientId: account.oauth2['client-id'],
          refreshToken: account.oauth2['refresh-token'],
          ...(account.oauth2['client-secret'] ? { clientSecret: account.oauth2['client-secret'] } : {}),
        },
      }
    : account['password-command'] !== undefined
      ? { passwordCommand: account['password-command'] }
      : account['password-env'] !== undefined
        ? { passwordEnv: account['password-env'] }
        : { password: account.password ?? '' };
  const { ImapDriver } = await import('@twinbox/driver-imap');
  return ImapDriver.connect({
    host: account.host,
    ...(account.port ? { port: account.port } : {}),
    tls: account.tls,
    user: account.user,
    ...credentials,
    ...(account['ca-file'] ? { ca: await readFile(account['ca-file'], 'utf8') } : {}),
    ...(account.fingerprint ? { fingerprint: account.fingerprint } : {}),
    allowPlaintextPassword: account['allow-plaintext-password'],
  });
}

/** The engine's policy for a pair's settings. */
export function policyOf(pair: PairConfig): SyncPolicy {
  const has = (op: PairConfig['sync'][number]) => pair.sync.includes(op);
  return resolvePolicy({
    direction: pair.direction,
    propagate: {
      new: has('new'),
      flags: has('flags'),
      deletions: has('deletions'),
      folderCreation: has('folder-creation'),
      folderDeletion: has('folder-deletion'),
    },
    conflicts: { flags: pair.conflicts.flags, deleteVsChange: pair.conflicts['delete-vs-change'] },
  });
}

/** Where a pair's state lives. */
export function statePath(config: TwinboxConfig, pairName: string): string {
  return join(config.state.dir ?? defaultStateDir(), `${pairName}.sqlite`);
}

/** A pair ready to sync: both sides' controllers, the engine options its config asks for, and close. */
export interface OpenedPair {
  name: string;
  config: PairConfig;
  left: SideController;
  right: SideController;
  /** Pass to `sync` (add your own `onEvent`, `dryRun`, `signal`). */
  syncOptions: SyncOptions;
  statePath: string;
  close(): Promise<void>;
}

export interface OpenPairOptions {
  /** Only folders whose (left) name passes this as well as the pair's patterns. */
  folderFilter?: (name: string) => boolean;
  /** Wait for another sync of the pair to finish rather than fail at once. */
  waitForLock?: boolean;
}

/**
 * Opens both stores and the state of a pair, in this thread. Whatever was opened is closed again if a
 * later step fails, so a failed open leaves no connection or lock behind.
 */
export async function openPair(
  loaded: LoadedConfig,
  pairName: string,
  options: OpenPairOptions = {},
): Promise<OpenedPair> {
  const { config } = loaded;
  const pair = config.pairs[pairName];
  if (!pair) throw new Error(`No pair named ${JSON.stringify(pairName)} in ${loaded.file}.`);
  const opened: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const o of opened.reverse()) await o.close().catch(() => {});
  };
  try {
    const path = statePath(config, pairName);
    const [{ SqliteState }, { Controller }] = await Promise.all([
      import('@twinbox/state-sqlite'),
      import('@twinbox/controller'),
    ]);
    const state = await SqliteState.open({ path, wait: options.waitForLock ?? false });
    opened.push(state);
    const sides = await Promise.allSettled([
      openDriver(config.accounts[pair.left]!),
      openDriver(config.accounts[pair.right]!),
    ]);
    for (const s of sides) if (s.status === 'fulfilled') opened.push(s.value);
    for (const s of sides) if (s.status === 'rejected') throw s.reason;
    const [leftDriver, rightInner] = sides.map((s) => (s as PromiseFulfilledResult<Driver>).value) as [
      Driver,
      Driver,
    ];
    const renames = new FolderRenames(pair.rename);
    const rightDriver = renames.empty ? rightInner : new RenamedDriver(rightInner, renames);
    const matches = folderMatcher(pair.folders);
    const extra = options.folderFilter;
    return {
      name: pairName,
      config: pair,
      left: new Controller({ side: 'left', driver: leftDriver, state }),
      right: new Controller({ side: 'right', driver: rightDriver, state }),
      statePath: path,
      syncOptions: {
        policy: policyOf(pair),
        concurrency: config.concurrency,
        folders: (key) => {
          const path = parseFolderKey(key);
          return matches(path) && (!extra || extra(path.join('/')));
        },
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
