import { defineConfig, type ViteUserConfig } from 'vitest/config';

export interface TwinboxVitestOptions {
  /**
   * Start the private Dovecot fixture once for the package's test run (global setup) and make it
   * available to tests through `@twinbox/test-dovecot/inject`. The package must depend on
   * `@twinbox/test-dovecot`.
   */
  dovecot?: boolean;
  /** Per-test timeout; integration tests get more by default. */
  testTimeout?: number;
}

/**
 * The one vitest configuration of the workspace: tests live in `test/`, next to the package they
 * specify, and nothing is skipped by configuration.
 */
export function twinboxVitestConfig(options: TwinboxVitestOptions = {}): ViteUserConfig {
  const globalSetup: string[] = [];
  if (options.dovecot) {
    // Resolved from the calling package, which is the one that depends on the fixture.
    globalSetup.push('@twinbox/test-dovecot/global-setup');
  }
  return defineConfig({
    test: {
      include: ['test/**/*.test.ts'],
      globalSetup,
      testTimeout: options.testTimeout ?? (options.dovecot ? 30_000 : 10_000),
      hookTimeout: options.dovecot ? 60_000 : 10_000,
      // A stray `.only` must not silently narrow the CI run.
      allowOnly: !process.env.CI,
      passWithNoTests: false,
    },
  });
}
