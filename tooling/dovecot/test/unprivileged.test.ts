import { spawn } from 'node:child_process';
import { chmod, copyFile, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// Started in a child process as the unprivileged user: it must not need anything root has.
const SCRIPT = `
import { connect } from 'node:net';
import { startDovecot } from './dist/index.js';

function converse(port, lines) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    sock.on('data', (d) => { out += d; if (/^z OK/m.test(out)) { sock.end(); resolve(out); } });
    sock.on('error', reject);
    sock.write(lines.join('\\r\\n') + '\\r\\n');
  });
}

const server = await startDovecot();
try {
  const { user, password } = await server.addUser();
  const out = await converse(server.info.port, [
    \`a LOGIN \${user} \${password}\`,
    'b CREATE "Archiv/&ANw-bersicht"',
    'c APPEND INBOX (\\\\Seen) {4+}', 'abcd',
    'd SELECT INBOX',
    'z LOGOUT',
  ]);
  console.log(JSON.stringify({ uid: process.getuid(), mailUid: server.info.mailUid, out }));
} finally {
  await server.stop();
}
`;

describe('the Dovecot fixture for an unprivileged user', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('starts, serves and stops without root (as nobody when the suite itself runs as root)', async () => {
    const isRoot = process.getuid?.() === 0;
    // Everything the child needs is copied where any user can read it: the suite's own directory and
    // Node may sit under root's 0700 home.
    const dir = await mkdtemp(join(tmpdir(), 'twinbox-unpriv-'));
    dirs.push(dir);
    await chmod(dir, 0o755);
    await cp(new URL('../dist', import.meta.url), join(dir, 'dist'), { recursive: true });
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    await writeFile(join(dir, 'check.js'), SCRIPT);
    const node = join(dir, 'node');
    await copyFile(process.execPath, node);
    await chmod(node, 0o755);
    const nobody = 65534;
    const child = spawn(node, ['check.js'], {
      cwd: dir,
      ...(isRoot ? { uid: nobody, gid: nobody } : {}),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, TMPDIR: '/tmp' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { uid: number; mailUid: number; out: string };
    expect(result.uid).not.toBe(0);
    expect(result.mailUid).toBe(result.uid);
    expect(result.out).toMatch(/^a OK/m);
    expect(result.out).toMatch(/^b OK/m);
    expect(result.out).toMatch(/^c OK \[APPENDUID \d+ 1\]/m);
    expect(result.out).toMatch(/^\* 1 EXISTS/m);
  }, 60_000);
});
