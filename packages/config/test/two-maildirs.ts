import { join } from 'node:path';
import type { LoadedConfig } from '../src/index.js';
import { parseConfig } from '../src/schema-entry.js';

/** A config under `dir`: pair `p` between the Maildirs `one` and `two`, its state in `state`. */
export function twoMaildirs(dir: string, workers?: string): LoadedConfig {
  const file = join(dir, 'config.toml');
  const text = `${workers ? `workers = "${workers}"\n` : ''}
[state]
dir = "${join(dir, 'state')}"
[accounts.one]
type = "maildir"
path = "${join(dir, 'one')}"
[accounts.two]
type = "maildir"
path = "${join(dir, 'two')}"
[pairs.p]
left = "one"
right = "two"
`;
  return { file, config: parseConfig(text, file) };
}
