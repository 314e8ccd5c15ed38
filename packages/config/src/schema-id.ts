/**
 * The identity of what validation does: a hash of `schema.ts` and `validate.ts` and zod's version,
 * which a test (`defaults-cache.test.ts`) recomputes. Any change to them must change it, so that
 * defaults kept for a config under an older schema (defaults-cache.ts) are never used under a new one:
 * the test fails until it is updated to the value it prints.
 */
export const SCHEMA_ID = 'e3bd0eaef3d950bb';
