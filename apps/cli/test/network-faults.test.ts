import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { FaultProxy, type NetworkFault } from '@twinbox/test-fake-imap';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twinbox } from './helpers.js';

/**
 * Fault injection on real stores (issue 15): each trial syncs a Dovecot account and a Maildir, both
 * holding mail, through a proxy that cuts or stalls the connection at a random byte, either way; then a
 * clean sync, a third that must write nothing, and a full comparison of both sides against the
 * expected messages (content hash and flags). `TWINBOX_FAULT_TRIALS` sets the number of trials (CI: 30;
 * `TWINBOX_FAULT_TRIALS=300` for the long form); `TWINBOX_FAULT_SEED` shifts the random choices.
 */
const TRIALS = Number(process.env.TWINBOX_FAULT_TRIALS ?? 30);
const SEED = Number(process.env.TWINBOX_FAULT_SEED ?? 1);

/** A small deterministic generator (mulberry32), so a failing trial can be run again by its number. */
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

interface Expected {
  /** Folder → Message-ID → [sha256 of the CRLF body, sorted flags]. */
  [folder: string]: Map<string, [string, string]>;
}

const FLAG_CHOICES = [[], ['\\Seen'], ['\\Flagged'], ['\\Seen', '\\Answered'], ['$label1', '\\Seen']];
const LETTERS: Record<string, string> = { '\\Answered': 'R', '\\Flagged': 'F', '\\Seen': 'S' };

function body(id: string, rnd: () => number): Buffer {
  const lines = Array.from(
    { length: 5 + Math.floor(rnd() * 200) },
    (_, i) => `line ${i} of ${id} ${'z'.repeat(Math.floor(rnd() * 70))}`,
  );
  return Buffer.from(
    `Message-ID: <${id}@faults>\r\nSubject: ${id}\r\nFrom: a@example.org\r\n\r\n${lines.join('\r\n')}\r\n`,
  );
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const flagKey = (flags: Iterable<string>) =>
  [...flags]
    .filter((f) => f !== '\\Recent')
    .sort()
    .join(' ');

async function serverHoldings(client: ImapFlow): Promise<Record<string, Map<string, [string, string][]>>> {
  const out: Record<string, Map<string, [string, string][]>> = {};
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
  return out;
}

async function maildirHoldings(
  root: string,
  folders: string[],
): Promise<Record<string, Map<string, [string, string][]>>> {
  const out: Record<string, Map<string, [string, string][]>> = {};
  for (const folder of folders) {
    const held = new Map<string, [string, string][]>();
    out[folder] = held;
    const base = folder === 'INBOX' ? root : join(root, `.${folder}`);
    for (const sub of ['cur', 'new']) {
      for (const name of await readdir(join(base, sub)).catch(() => [] as string[])) {
        const text = (await readFile(join(base, sub, name))).toString('latin1').replace(/\r?\n/g, '\r\n');
        const id = /^Message-ID: <([^>@]*)@/im.exec(text)?.[1] ?? '?';
        const info = name.split(':2,')[1] ?? '';
        const flags = Object.entries(LETTERS)
          .filter(([, l]) => info.includes(l))
          .map(([f]) => f);
        // Keywords live in dovecot-keywords as letters a–z; the one keyword used here is the first.
        if (/[a-z]/.test(info)) flags.push('$label1');
        held.set(id, [...(held.get(id) ?? []), [sha(Buffer.from(text, 'latin1')), flagKey(flags)]]);
      }
    }
  }
  return out;
}

/** Per fault kind: trials run, and what the comparison found. */
const tally = new Map<
  string,
  { trials: number; fired: number; lost: number; duplicated: number; flagMismatches: number }
>();

afterAll(() => {
  const rows = [...tally.entries()].map(
    ([kind, t]) =>
      `${kind.padEnd(10)} trials ${t.trials}, fault fired ${t.fired}, lost ${t.lost}, duplicated ${t.duplicated}, flag mismatches ${t.flagMismatches}`,
  );
  console.log(`network faults (seed ${SEED}):\n${rows.join('\n')}`);
});

let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await FaultProxy.start({ host: '127.0.0.1', port: dovecot().port });
});
afterAll(async () => {
  await proxy?.stop();
});

describe('syncs through a connection cut or stalled at a random byte', () => {
  it.each(Array.from({ length: TRIALS }, (_, i) => i + 1))(
    'trial %i: nothing lost, nothing duplicated, flags right',
    async (trial) => {
      const rnd = random(SEED * 100_003 + trial);
      const { user, password } = await newUser();
      const dir = await mkdtemp(join(tmpdir(), 'twinbox-faults-'));
      try {
        const expected: Expected = { INBOX: new Map(), Work: new Map() };
        const client = new ImapFlow({
          host: '127.0.0.1',
          port: dovecot().port,
          secure: false,
          doSTARTTLS: false,
          auth: { user, pass: password },
          logger: false,
        });
        client.on('error', () => {});
        await client.connect();
        let serverBytes = 0;
        try {
          await client.mailboxCreate('Work');
          for (const folder of ['INBOX', 'Work']) {
            for (let i = 0; i < 4 + Math.floor(rnd() * 8); i++) {
              const id = `t${trial}.s.${folder}.${i}`;
              const flags = FLAG_CHOICES[Math.floor(rnd() * FLAG_CHOICES.length)]!;
              const b = body(id, rnd);
              serverBytes += b.length;
              await client.append(folder, b, flags);
              expected[folder]!.set(id, [sha(b), flagKey(flags)]);
            }
          }
        } finally {
          await client.logout();
        }
        // Mail only the Maildir has: its upload crosses the proxy the other way.
        const maildir = join(dir, 'Mail');
        let localBytes = 0;
        for (const [folder, base] of [
          ['INBOX', maildir],
          ['Work', join(maildir, '.Work')],
        ] as const) {
          for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(base, sub), { recursive: true });
          for (let i = 0; i < 1 + Math.floor(rnd() * 5); i++) {
            const id = `t${trial}.m.${folder}.${i}`;
            const b = body(id, rnd);
            localBytes += b.length;
            const seen = rnd() < 0.5;
            await writeFile(
              join(base, 'cur', `${1700000000 + i}.t${trial}m${i}.faults:2,${seen ? 'S' : ''}`),
              b.toString('latin1').replace(/\r\n/g, '\n'),
            );
            expected[folder]!.set(id, [sha(b), flagKey(seen ? ['\\Seen'] : [])]);
          }
        }
        const config = join(dir, 'config.toml');
        await writeFile(
          config,
          `[state]\ndir = "${join(dir, 'state')}"\n\n[accounts.remote]\ntype = "imap"\nhost = "127.0.0.1"\nport = ${proxy.port}\ntls = "none"\nuser = "${user}"\npassword-env = "FAULT_PASSWORD"\ntimeout = 2\n\n[accounts.local]\ntype = "maildir"\npath = "Mail"\n\n[pairs.mail]\nleft = "remote"\nright = "local"\n`,
        );
        const env = { FAULT_PASSWORD: password, XDG_STATE_HOME: join(dir, 'xdg-state') };

        const direction = rnd() < 0.6 ? 'down' : 'up';
        const fault: NetworkFault = {
          kind: rnd() < 0.7 ? 'cut' : 'stall',
          direction,
          afterBytes: Math.floor(rnd() * ((direction === 'down' ? serverBytes : localBytes) + 3000)),
        };
        const kind = `${fault.kind}-${fault.direction}`;
        proxy.arm(fault);
        const faulty = await twinbox(['-c', config, 'sync'], env);
        // Whatever the fault did, the sync ended by itself, with a documented code.
        expect([0, 1, 4], faulty.stderr).toContain(faulty.code);
        const fired = proxy.fired;
        proxy.arm({ kind: 'cut', direction: 'down', afterBytes: Number.MAX_SAFE_INTEGER });

        const clean = await twinbox(['-c', config, 'sync'], env);
        expect(clean.code, `${kind} at ${fault.afterBytes}: ${clean.stderr}`).toBe(0);
        const third = await twinbox(['-c', config, '--json', 'sync'], env);
        expect(third.code).toBe(0);
        const done = third.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { type: string; totals?: Record<string, number> })
          .find((e) => e.type === 'pair-done');
        expect(done?.totals).toMatchObject({ copied: 0, flagged: 0, deleted: 0, errors: 0 });

        const reader = new ImapFlow({
          host: '127.0.0.1',
          port: dovecot().port,
          secure: false,
          doSTARTTLS: false,
          auth: { user, pass: password },
          logger: false,
        });
        reader.on('error', () => {});
        await reader.connect();
        const server = await serverHoldings(reader).finally(() => reader.logout());
        const local = await maildirHoldings(maildir, ['INBOX', 'Work']);
        const t = tally.get(kind) ?? { trials: 0, fired: 0, lost: 0, duplicated: 0, flagMismatches: 0 };
        tally.set(kind, t);
        t.trials++;
        if (fired) t.fired++;
        for (const [folder, messages] of Object.entries(expected)) {
          for (const side of [server, local]) {
            const held = side[folder] ?? new Map<string, [string, string][]>();
            for (const [id, [hash, flags]] of messages) {
              const copies = held.get(id) ?? [];
              if (copies.length === 0) t.lost++;
              if (copies.length > 1) t.duplicated++;
              if (copies.some(([, f]) => f !== flags)) t.flagMismatches++;
              expect(
                copies,
                `${kind} at ${fault.afterBytes}: ${id} in ${folder} on the ${side === server ? 'server' : 'Maildir'} (holds ${[...held.keys()].slice(0, 3).join(' ')})`,
              ).toEqual([[hash, flags]]);
            }
            expect(held.size, `${kind}: ${folder} holds nothing else`).toBe(messages.size);
          }
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
