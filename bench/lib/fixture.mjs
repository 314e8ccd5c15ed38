// The Dovecot fixture with the corpus loaded once into a seed user, and cheap copies of it for each
// tool: a copy is made on the server's disk (cp -a of the seed's home, Dovecot's indexes included)
// rather than APPENDed again, which for ×5 would cost a minute per copy and per repetition. Nothing is
// connected to a user while it is copied or reset.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusSize, loadIntoImap } from '../../tooling/corpus/dist/index.js';
import { addUser, startDovecot } from '../../tooling/dovecot/dist/index.js';

/** Starts Dovecot, loads the corpus into user `seed`; `dir` receives the CA file. */
export async function startFixture({ corpus, dir, log = console.log }) {
  const server = await startDovecot();
  const { info } = server;
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, info.ca);
  const seed = await server.addUser('seed');
  const total = await corpusSize(corpus);
  const loaded = await loadIntoImap(
    {
      host: info.host,
      port: info.tlsPort,
      secure: true,
      ca: info.ca,
      user: seed.user,
      password: seed.password,
    },
    corpus,
  );
  log(`loaded ${loaded.appended} of ${total} corpus messages into Dovecot in ${loaded.seconds.toFixed(1)} s`);
  if (loaded.failed.length) throw new Error(`${loaded.failed.length} corpus messages were refused`);
  return { server, info, caFile, seed, total, configFile: join(info.dir, 'dovecot.conf') };
}

/** A user's home on the server; their Maildir is `${home}/Maildir`. */
export const homeOf = (info, user) => join(info.homeRoot, user);

/** Adds a user (their password lives in their passwd file) with no mail yet. */
export const newUser = (info, name) => addUser(info, name);

/** Makes `user`'s mail an exact copy of the seed's. */
export function resetFromSeed(info, user) {
  rmSync(homeOf(info, user), { recursive: true, force: true });
  execFileSync('cp', ['-a', homeOf(info, 'seed'), homeOf(info, user)]);
}

/** Empties `user`'s mail; Dovecot recreates the Maildir at the next login. */
export function emptyUser(info, user) {
  rmSync(homeOf(info, user), { recursive: true, force: true });
}
