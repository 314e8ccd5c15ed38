import { twinboxVitestConfig } from '@twinbox/vitest-config';

// These tests run the built binaries several times each against Dovecot: on a busy CI machine (turbo
// runs every package's tests at once on 2 cores) one test can take a minute without anything being wrong.
export default twinboxVitestConfig({ dovecot: true, testTimeout: 180_000 });
