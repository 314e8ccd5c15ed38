import type { TestProject } from 'vitest/node';
import { type DovecotInfo, startDovecot } from './server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dovecot: DovecotInfo;
  }
}

/**
 * Vitest global setup: one private Dovecot for the whole test run of a package, stopped in teardown,
 * which vitest runs whether the tests passed or failed. A missing Dovecot fails the run loudly.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startDovecot();
  project.provide('dovecot', server.info);
  return () => server.stop();
}
