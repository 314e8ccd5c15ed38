import { writeFileSync } from 'node:fs';
import { configJsonSchema } from './schema.js';

// Run at build time: writes the JSON Schema that the package publishes for editors.
const target = process.argv[2] ?? 'dist/config.schema.json';
writeFileSync(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
