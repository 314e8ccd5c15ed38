/**
 * @twinbox/config/schema: the config's schema (zod) and what validates with it. Apart from the package's
 * main entry, so that what only loads a config (`loadConfig`, which keeps what validation added to a
 * text validated before: defaults-cache.ts) does not load zod and build the schema, ~30 ms of a
 * one-shot command.
 */

export { configJsonSchema, configSchema } from './schema.js';
export { parseConfig } from './validate.js';
