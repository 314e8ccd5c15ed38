import { inject } from 'vitest';
import './global-setup.js';
import { addUser, type DovecotInfo, type TestUser } from './server.js';

/** The fixture started by the global setup, as seen from a test file. */
export function dovecot(): DovecotInfo {
  const info = inject('dovecot');
  if (!info) {
    throw new Error(
      "No Dovecot fixture: add `dovecot: true` to this package's twinboxVitestConfig so the global setup starts one.",
    );
  }
  return info;
}

/** A fresh user with an empty mailbox on the fixture, so test files never see each other's mail. */
export function newUser(name?: string): Promise<TestUser> {
  return addUser(dovecot(), name);
}
