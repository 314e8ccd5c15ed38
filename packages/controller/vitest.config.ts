import { twinboxVitestConfig } from '@twinbox/vitest-config';

// With TWINBOX_ENGINE_MODE=thread every sync starts two worker threads: the property tests need longer.
export default twinboxVitestConfig({
  testTimeout: process.env.TWINBOX_ENGINE_MODE === 'thread' ? 300_000 : undefined,
});
