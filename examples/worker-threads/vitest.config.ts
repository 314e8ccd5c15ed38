import { twinboxVitestConfig } from '@twinbox/vitest-config';

export default twinboxVitestConfig({ dovecot: true });
