import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { FaultProxy, type NetworkFault } from '@twinbox/test-fake-imap';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin } from './helpers.js';

/**
 * Fault injection on real stores (issue 15). Each trial gives a Dovecot account and a Maildir mail of
 * their own, injects one fault into a sync, then runs a clean sync and one that must write nothing, and
 * compares both sides with the messages expected, by content hash and flags: nothing lost, nothing
 * duplicated, no flag wrong. The faults, in turn:
 * - the connection cut, or stalled, at a random byte, either way (through a proxy);
 * - the server restarted at a random instant (every connection cut, new ones refused for a while);
 * - SIGKILL at a random instant of a first sync, and of an incremental one with changes on both sides;
 * - a full disk (ENOSPC) and a read-only folder on the Maildir side (a tmpfs and a read-only bind mount
 *   in a user and mount namespace of the test's own, so it works as root and as a normal user);
 * - a UIDVALIDITY reset on the server for folders already synced: pairing by content, no copy;
 * - another program changing both stores while the sync runs.
 * `TWINBOX_FAULT_TRIALS` sets the number of trials (CI: 30; 300 or more for the long form);
 * `TWINBOX_FAULT_SEED` shifts the random choices; a trial's number and the seed replay it.
 */
const TRIALS = Number(process.env.TWINBOX_FAULT_TRIALS ?? 30);
const SEED = Number(process.env.TWINBOX_FAULT_SEED ?? 1);

const KINDS = [
  'cut-down',
  'cut-up',
  'stall-down',
  'stall-up',
  'restart',
  'kill-first',
  'kill-incremental',
  'enospc',
  'readonly',
  'uidvalidity',
  'interfere',
] as const;
type Kind = (typeof KINDS)[number];
/** `TWINBOX_FAULT_KINDS=kill-first,enospc` runs only those kinds (to chase one). */
const CHOSEN: readonly Kind[] = process.env.TWINBOX_FAULT_KINDS
  ? (process.env.TWINBOX_FAULT_KINDS.split(',') as Kind[]).filter((k) => KINDS.includes(k))
  : KINDS;

/** mulberry32: small and deterministic, so a failing trial is replayed by its number and seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FOLDERS = ['INBOX', 'Work'] as const;
const FLAG_CHOICES = [[], ['\\Seen'], ['\\Flagged'], ['\\Seen', '\\Answered'], ['$label1', '\\Seen']];
const LETTERS: Record<string, string> = { '\\Answered': 'R', '\\Flagged': 'F', '\\Seen': 'S' };
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const flagKey = (flags: Iterable<string>) =>
  [...flags]
    .filter((f) => f !== '\\Recent')
    .sort()
    .join(' ');

/** Folder → Message-ID (without `@faults`) → [sha256 of the CRLF body, flags]. */
type Holdings = Record<string, Map<string, [string, string][]>>;
type Expected = Record<string, Map<string, [string, string]>>;

function body(id: string, rnd: () => number): Buffer {
  const lines = Array.from(
    { length: 5 + Math.floor(rnd() * 200) },
    (_, i) => `line ${i} of ${id} ${'z'.repeat(Math.floor(rnd() * 70))}`,
  );
  return Buffer.from(
    `Message-ID: <${id}@faults>\r\nSubject: ${id}\r\nFrom: a@example.org\r\n\r\n${lines.join('\r\n')}\r\n`,
  );
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
        maxBuffer: 64 << 20,
      },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** A trial's world: one Dovecot user, one Maildir, one config, and what both must end up holding. */
class Trial {
  readonly expected: Expected = { INBOX: new Map(), Work: new Map() };
  serverBytes = 0;
  localBytes = 0;
  localPages = 0;
  serverPages = 0;
  #local = 0;
  #remote = 0;
  /**
   * Messages changed (flags) or deleted since the trial began: each is changed once only, on one side,
   * so no change meets a deletion of the same message (a conflict the engine resolves by keeping the
   * message, which this simple model does not follow).
   */
  readonly #touched = new Set<string>();

  private constructor(
    readonly n: number,
    readonly rnd: () => number,
    readonly user: string,
    readonly password: string,
    readonly dir: string,
    readonly proxyPort: number,
  ) {}

  static async create(n: number, proxyPort: number): Promise<Trial> {
    const { user, password } = await newUser();
    const dir = await mkdtemp(join(tmpdir(), 'twinbox-faults-'));
    const t = new Trial(
      n,
      random(Math.imul(n, 0x9e3779b1) ^ Math.imul(SEED, 0x85ebca6b)),
      user,
      password,
      dir,
      proxyPort,
    );
    await writeFile(
      t.config,
      `[state]\ndir = "${join(dir, 'state')}"\n\n[accounts.remote]\ntype = "imap"\nhost = "127.0.0.1"\nport = ${proxyPort}\ntls = "none"\nuser = "${user}"\npassword-env = "FAULT_PASSWORD"\ntimeout = 2\n\n[accounts.local]\ntype = "maildir"\npath = "Mail"\n\n[pairs.mail]\nleft = "remote"\nright = "local"\n`,
    );
    for (const folder of FOLDERS)
      for (const sub of ['cur', 'new', 'tmp'])
        await mkdir(join(t.folderDir(folder), sub), { recursive: true });
    return t;
  }

  get config() {
    return join(this.dir, 'config.toml');
  }
  get maildir() {
    return join(this.dir, 'Mail');
  }
  get env() {
    return { FAULT_PASSWORD: this.password, XDG_STATE_HOME: join(this.dir, 'xdg-state') };
  }
  folderDir(folder: string, root = this.maildir) {
    return folder === 'INBOX' ? root : join(root, `.${folder}`);
  }

  async imap(): Promise<ImapFlow> {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: dovecot().port,
      secure: false,
      doSTARTTLS: false,
      auth: { user: this.user, pass: this.password },
      logger: false,
    });
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rnd() * items.length)]!;
  }

  /** Mail on the server only: 4 to 11 messages a folder. */
  async serverMail(client: ImapFlow, count?: number): Promise<void> {
    for (const folder of FOLDERS) {
      for (let i = 0; i < (count ?? 4 + Math.floor(this.rnd() * 8)); i++) {
        const id = `t${this.n}.s${++this.#remote}`;
        const flags = this.pick(FLAG_CHOICES);
        const b = body(id, this.rnd);
        this.serverBytes += b.length;
        this.serverPages += Math.ceil(b.length / 4096);
        await client.append(folder, b, flags);
        this.expected[folder]!.set(id, [sha(b), flagKey(flags)]);
      }
    }
  }

  /** Mail in the Maildir only: 1 to 5 messages a folder, as a mail client delivers it. */
  async localMail(count?: number): Promise<void> {
    for (const folder of FOLDERS) {
      for (let i = 0; i < (count ?? 1 + Math.floor(this.rnd() * 5)); i++) {
        const id = `t${this.n}.m${++this.#local}`;
        const b = body(id, this.rnd);
        this.localBytes += b.length;
        this.localPages += Math.ceil(b.length / 4096);
        const seen = this.rnd() < 0.5;
        await writeFile(
          join(
            this.folderDir(folder),
            'cur',
            `${1700000000 + this.#local}.t${this.n}m${this.#local}.faults:2,${seen ? 'S' : ''}`,
          ),
          b.toString('latin1').replace(/\r\n/g, '\n'),
        );
        this.expected[folder]!.set(id, [sha(b), flagKey(seen ? ['\\Seen'] : [])]);
      }
    }
  }

  /** Changes a user makes on both sides between syncs: flags, deletions of synced mail, new mail. */
  async changeBothSides(): Promise<void> {
    const client = await this.imap();
    try {
      for (const folder of FOLDERS) {
        const lock = await client.getMailboxLock(folder);
        try {
          const listed: { uid: number; id: string }[] = [];
          for await (const m of client.fetch('1:*', { uid: true, envelope: true })) {
            const id = /<([^>@]*)@/.exec(m.envelope?.messageId ?? '')?.[1];
            if (id) listed.push({ uid: m.uid, id });
          }
          for (const m of listed) {
            if (this.#touched.has(m.id) || !this.expected[folder]!.has(m.id)) continue;
            const r = this.rnd();
            if (r < 0.35) this.#touched.add(m.id);
            if (r < 0.15) {
              await client.messageDelete(String(m.uid), { uid: true });
              this.expected[folder]!.delete(m.id);
            } else if (r < 0.35) {
              await client.messageFlagsAdd(String(m.uid), ['\\Flagged'], { uid: true });
              const [hash, flags] = this.expected[folder]!.get(m.id)!;
              this.expected[folder]!.set(m.id, [
                hash,
                flagKey(new Set([...flags.split(' ').filter(Boolean), '\\Flagged'])),
              ]);
            }
          }
        } finally {
          lock.release();
        }
      }
      await this.serverMail(client, 2);
    } finally {
      await client.logout();
    }
    // The Maildir side: mark some read (a rename, as mutt does), delete some, deliver new mail.
    for (const folder of FOLDERS) {
      const cur = join(this.folderDir(folder), 'cur');
      for (const name of await readdir(cur)) {
        // The sync may rename or remove a file under our feet: such a file is simply left alone.
        const text = await readFile(join(cur, name), 'latin1').catch(() => undefined);
        const id = text ? /t\d+\.[sm]\d+/.exec(text)?.[0] : undefined;
        if (!id || !this.expected[folder]!.has(id) || this.#touched.has(id)) continue;
        const r = this.rnd();
        if (r < 0.1) {
          if (!(await gone(unlink(join(cur, name))))) continue;
          this.#touched.add(id);
          this.expected[folder]!.delete(id);
        } else if (r < 0.3 && !name.split(':2,')[1]?.includes('S')) {
          const [base, info = ''] = name.split(':2,');
          if (
            !(await gone(rename(join(cur, name), join(cur, `${base}:2,${[...info, 'S'].sort().join('')}`))))
          )
            continue;
          this.#touched.add(id);
          const [hash, flags] = this.expected[folder]!.get(id)!;
          this.expected[folder]!.set(id, [
            hash,
            flagKey(new Set([...flags.split(' ').filter(Boolean), '\\Seen'])),
          ]);
        }
      }
    }
    await this.localMail(2);
  }

  sync(json = false): Promise<RunResult> {
    return run(process.execPath, [bin, '-c', this.config, ...(json ? ['--json'] : []), 'sync'], this.env);
  }

  /**
   * A sync (`--json`) on which `fault` is done a little after its `event`th progress event: then, not
   * at a wall-clock time, since a trial's sync may take a tenth of a second or two seconds. Resolves
   * with how it ended: the exit code, or the signal that killed it.
   */
  async syncFaultedAt(
    event: number,
    delayMs: number,
    fault: (child: ChildProcess) => void,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; faulted: boolean }> {
    const child: ChildProcess = spawn(process.execPath, [bin, '-c', this.config, '--json', 'sync'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...this.env },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let seen = 0;
    let faulted = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString().split('\n').length - 1;
      if (timer === undefined && seen >= event) {
        timer = setTimeout(() => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          faulted = true;
          fault(child);
        }, delayMs);
      }
    });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (c, sig) => resolve([c, sig])),
    );
    if (timer !== undefined) clearTimeout(timer);
    return { code, signal, faulted };
  }

  async serverHoldings(): Promise<Holdings> {
    const client = await this.imap();
    const out: Holdings = {};
    try {
      for (const box of await client.list()) {
        const held = new Map<string, [string, string][]>();
        out[box.path] = held;
        const lock = await client.getMailboxLock(box.path);
        try {
          if (client.mailbox && client.mailbox.exists > 0) {
            for await (const m of client.fetch('1:*', { uid: true, flags: true, source: true })) {
              const id = /^Message-ID: <([^>@]*)@/im.exec(m.source?.toString('latin1') ?? '')?.[1] ?? '?';
              held.set(id, [...(held.get(id) ?? []), [sha(m.source!), flagKey(m.flags ?? [])]]);
            }
          }
        } finally {
          lock.release();
        }
      }
    } finally {
      await client.logout();
    }
    return out;
  }

  async maildirHoldings(root = this.maildir): Promise<Holdings> {
    const out: Holdings = {};
    for (const folder of FOLDERS) {
      const held = new Map<string, [string, string][]>();
      out[folder] = held;
      for (const sub of ['cur', 'new']) {
        const dir = join(this.folderDir(folder, root), sub);
        for (const name of await readdir(dir).catch(() => [] as string[])) {
          const text = (await readFile(join(dir, name))).toString('latin1').replace(/\r?\n/g, '\r\n');
          const id = /^Message-ID: <([^>@]*)@/im.exec(text)?.[1] ?? '?';
          const info = name.split(':2,')[1] ?? '';
          const flags = Object.entries(LETTERS)
            .filter(([, l]) => info.includes(l))
            .map(([f]) => f);
          // Keywords are letters a–z indexed in dovecot-keywords; the only keyword here is $label1.
          if (/[a-z]/.test(info)) flags.push('$label1');
          held.set(id, [...(held.get(id) ?? []), [sha(Buffer.from(text, 'latin1')), flagKey(flags)]]);
        }
      }
    }
    return out;
  }
}

/** True once `op` is done; false if its file had vanished (ENOENT), which a concurrent sync may cause. */
async function gone(op: Promise<void>): Promise<boolean> {
  try {
    await op;
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Per fault kind: trials run, trials whose fault hit the sync, and what the comparisons found. */
const tally = new Map<
  Kind,
  { trials: number; hit: number; lost: number; duplicated: number; flagMismatches: number }
>();

function compare(kind: Kind, what: string, expected: Expected, sides: Record<string, Holdings>): void {
  const t = tally.get(kind)!;
  for (const [folder, messages] of Object.entries(expected)) {
    for (const [sideName, side] of Object.entries(sides)) {
      const held = side[folder] ?? new Map<string, [string, string][]>();
      for (const [id, [hash, flags]] of messages) {
        const copies = held.get(id) ?? [];
        if (copies.length === 0) t.lost++;
        if (copies.length > 1) t.duplicated++;
        if (copies.length === 1 && copies[0]![1] !== flags) t.flagMismatches++;
        expect(copies, `${what}: ${id} in ${folder} on the ${sideName}`).toEqual([[hash, flags]]);
      }
      const extra = [...held.keys()].filter((id) => !messages.has(id));
      expect(extra, `${what}: ${folder} on the ${sideName} holds nothing else`).toEqual([]);
    }
  }
}

let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await FaultProxy.start({ host: '127.0.0.1', port: dovecot().port });
});
afterAll(async () => {
  await proxy?.stop();
  const rows = [...tally.entries()].map(
    ([kind, t]) =>
      `${kind.padEnd(17)} trials ${String(t.trials).padStart(3)}, fault hit the sync ${String(t.hit).padStart(3)}, lost ${t.lost}, duplicated ${t.duplicated}, flag mismatches ${t.flagMismatches}`,
  );
  console.log(`fault injection, seed ${SEED}, ${TRIALS} trials:\n${rows.join('\n')}`);
});

/** Runs the faulty phase inside a user and mount namespace of its own (see the file's comment). */
function inNamespace(t: Trial, script: string, vars: Record<string, string>): Promise<RunResult> {
  return run('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', script], {
    ...t.env,
    ...vars,
    NODE: process.execPath,
    BIN: bin,
    CONFIG: t.config,
    MAIL: t.maildir,
    DIR: t.dir,
  });
}

async function faultyPhase(
  kind: Kind,
  t: Trial,
): Promise<{ hit: boolean; detail: string; after?: Holdings }> {
  const rnd = t.rnd;
  switch (kind) {
    case 'cut-down':
    case 'cut-up':
    case 'stall-down':
    case 'stall-up': {
      const [how, direction] = kind.split('-') as ['cut' | 'stall', 'down' | 'up'];
      const span = direction === 'down' ? t.serverBytes : t.localBytes;
      const fault: NetworkFault = { kind: how, direction, afterBytes: Math.floor(rnd() * (span + 4000)) };
      proxy.arm(fault);
      const result = await t.sync();
      const hit = proxy.fired;
      proxy.arm({ kind: 'cut', direction: 'down', afterBytes: Number.MAX_SAFE_INTEGER });
      expect([0, 1, 4], result.stderr).toContain(result.code);
      return { hit, detail: `after ${fault.afterBytes} bytes` };
    }
    case 'restart': {
      const event = 1 + Math.floor(rnd() * 6);
      const delay = Math.floor(rnd() * 40);
      const down = 100 + Math.floor(rnd() * 1500);
      const result = await t.syncFaultedAt(event, delay, () => proxy.restart(down));
      expect([0, 1, 4]).toContain(result.code);
      // Let the "server" come back before the clean sync.
      await new Promise((r) => setTimeout(r, down));
      return {
        // Hit while it ran; the sync may well survive it (it reconnects with backoff) and exit 0.
        hit: result.faulted,
        detail: `after event ${event} + ${delay} ms, down ${down} ms, exit ${result.code}`,
      };
    }
    case 'kill-first':
    case 'kill-incremental': {
      if (kind === 'kill-incremental') {
        expect((await t.sync()).code).toBe(0);
        await t.changeBothSides();
      }
      const event = 1 + Math.floor(rnd() * 6);
      const delay = Math.floor(rnd() * 40);
      const result = await t.syncFaultedAt(event, delay, (child) => child.kill('SIGKILL'));
      if (result.signal === null) expect(result.code).toBe(0);
      return { hit: result.signal === 'SIGKILL', detail: `SIGKILL after event ${event} + ${delay} ms` };
    }
    case 'enospc': {
      // Room for the Maildir as it is, and a random part of what the server sends.
      const pages = t.localPages + 3 * 2 + 2 + Math.floor(rnd() * t.serverPages);
      const result = await inNamespace(
        t,
        `set -e
cp -a "$MAIL" "$DIR/Mail.before"
mount -t tmpfs -o size=$SIZE tmpfs "$MAIL"
cp -a "$DIR/Mail.before/." "$MAIL/"
set +e
"$NODE" "$BIN" -c "$CONFIG" sync > "$DIR/faulty.out" 2>&1; echo $? > "$DIR/faulty.code"
mount -o remount,size=256m "$MAIL"
"$NODE" "$BIN" -c "$CONFIG" sync > "$DIR/clean.out" 2>&1; echo $? > "$DIR/clean.code"
"$NODE" "$BIN" -c "$CONFIG" --json sync > "$DIR/noop.out" 2>&1; echo $? > "$DIR/noop.code"
mkdir "$DIR/Mail.after" && cp -a "$MAIL/." "$DIR/Mail.after/"`,
        { SIZE: String(pages * 4096) },
      );
      expect(result.code, result.stderr).toBe(0);
      const faulty = Number(await readFile(join(t.dir, 'faulty.code'), 'utf8'));
      const output = await readFile(join(t.dir, 'faulty.out'), 'utf8');
      expect([0, 1, 4], output).toContain(faulty);
      expect(
        Number(await readFile(join(t.dir, 'clean.code'), 'utf8')),
        await readFile(join(t.dir, 'clean.out'), 'utf8'),
      ).toBe(0);
      expectNothingWritten(await readFile(join(t.dir, 'noop.out'), 'utf8'));
      return {
        hit: faulty !== 0,
        detail: `${pages} pages`,
        after: await t.maildirHoldings(join(t.dir, 'Mail.after')),
      };
    }
    case 'readonly': {
      const folder = t.pick(['INBOX', 'Work']);
      const target = t.folderDir(folder);
      const result = await inNamespace(
        t,
        `mount --bind -o ro "$TARGET" "$TARGET" || exit 90
"$NODE" "$BIN" -c "$CONFIG" sync > "$DIR/faulty.out" 2>&1; echo $? > "$DIR/faulty.code"`,
        { TARGET: target },
      );
      expect(result.code, result.stderr).toBe(0);
      const faulty = Number(await readFile(join(t.dir, 'faulty.code'), 'utf8'));
      expect([0, 1, 4], await readFile(join(t.dir, 'faulty.out'), 'utf8')).toContain(faulty);
      return { hit: faulty !== 0, detail: `${folder} read-only` };
    }
    case 'uidvalidity': {
      expect((await t.sync()).code).toBe(0);
      const home = join(dovecot().homeRoot, t.user, 'Maildir');
      const before = await uidValidities(t);
      // Dovecot takes the time in seconds as a new UIDVALIDITY: let the second turn.
      await new Promise((r) => setTimeout(r, 1100));
      for (const folder of FOLDERS) {
        const dir = folder === 'INBOX' ? home : join(home, `.${folder}`);
        for (const name of await readdir(dir)) {
          if (name === 'dovecot-uidlist' || name.startsWith('dovecot.index'))
            await rm(join(dir, name), { force: true });
        }
      }
      const after = await uidValidities(t);
      for (const folder of FOLDERS)
        expect(after[folder], `${folder}'s UIDVALIDITY changed`).not.toBe(before[folder]);
      const result = await t.sync(true);
      expect(result.code, result.stderr).toBe(0);
      // Every message pairs again by content: nothing is copied either way.
      const done = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { totals: Record<string, number> };
      expect(done.totals.copied).toBe(0);
      expect(done.totals.paired).toBe([...Object.values(t.expected)].reduce((n, m) => n + m.size, 0));
      return { hit: true, detail: 'both folders' };
    }
    case 'interfere': {
      expect((await t.sync()).code).toBe(0);
      await t.changeBothSides();
      // While the next sync runs, another program changes both stores once more.
      const at = Math.floor(rnd() * 800);
      const running = t.sync();
      await new Promise((r) => setTimeout(r, at));
      await t.changeBothSides();
      const result = await running;
      expect([0, 1], result.stderr).toContain(result.code);
      return { hit: true, detail: `at ${at} ms` };
    }
  }
}

async function uidValidities(t: Trial): Promise<Record<string, string>> {
  const client = await t.imap();
  try {
    const out: Record<string, string> = {};
    for (const folder of FOLDERS) {
      const status = await client.status(folder, { uidValidity: true });
      out[folder] = status ? String(status.uidValidity) : '';
    }
    return out;
  } finally {
    await client.logout();
  }
}

function expectNothingWritten(jsonOutput: string): void {
  const done = jsonOutput
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; totals?: Record<string, number> })
    .find((e) => e.type === 'pair-done');
  expect(done?.totals).toMatchObject({ copied: 0, flagged: 0, deleted: 0, errors: 0, foldersCreated: 0 });
}

describe('fault injection on a Dovecot account and a Maildir', () => {
  it.each(Array.from({ length: TRIALS }, (_, i) => i + 1))(
    'trial %i: after the fault and a clean sync, nothing is lost, duplicated or flagged wrong',
    async (n) => {
      const kind = CHOSEN[(n - 1) % CHOSEN.length]!;
      const t = await Trial.create(n, proxy.port);
      let passed = false;
      try {
        const client = await t.imap();
        try {
          await client.mailboxCreate('Work');
          await t.serverMail(client);
        } finally {
          await client.logout();
        }
        await t.localMail();
        const { hit, detail, after } = await faultyPhase(kind, t);
        const what = `trial ${n} (${kind}, ${detail}, seed ${SEED})`;
        if (process.env.TWINBOX_FAULT_DEBUG) console.log(what, hit ? 'hit' : 'missed');
        let local = after;
        if (!local) {
          const clean = await t.sync();
          expect(clean.code, `${what}: ${clean.stderr}`).toBe(0);
          expectNothingWritten((await t.sync(true)).stdout);
          local = await t.maildirHoldings();
        }
        const entry = tally.get(kind) ?? { trials: 0, hit: 0, lost: 0, duplicated: 0, flagMismatches: 0 };
        tally.set(kind, entry);
        entry.trials++;
        if (hit) entry.hit++;
        compare(kind, what, t.expected, { server: await t.serverHoldings(), Maildir: local });
        // And `check`, which reads both stores its own way, agrees (the ENOSPC trial's Maildir lived in
        // a tmpfs that is gone now).
        if (!after) {
          const check = await run(process.execPath, [bin, '-c', t.config, 'check'], t.env);
          expect(check.code, `${what}: check\n${check.stdout}${check.stderr}`).toBe(0);
        }
        passed = true;
      } finally {
        // TWINBOX_FAULT_KEEP=1 keeps a failed trial's directory (config, state, Maildir) to look into.
        if (!passed && process.env.TWINBOX_FAULT_KEEP) console.log(`trial ${n} kept in ${t.dir}`);
        else await rm(t.dir, { recursive: true, force: true });
      }
    },
    90_000,
  );
});
