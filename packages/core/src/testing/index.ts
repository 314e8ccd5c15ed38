/**
 * @twinbox/core/testing: what a third party needs to test its own driver or state backend against
 * Twinbox's contracts, and the in-memory reference store used by the engine's own tests. It imports
 * vitest (an optional peer dependency); the main entry point stays free of it.
 */
export * from './driver-conformance.js';
export * from './memory-driver.js';
export * from './state-conformance.js';
