export { EXIT } from './exit-codes.js';
export { createProgram, main } from './program.js';
