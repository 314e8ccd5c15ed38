import { twinboxVitestConfig } from '@twinbox/vitest-config';

export default twinboxVitestConfig();
