export { twoWayMerge } from './two-way-merge.js';
