export { Controller, type ControllerOptions } from './controller.js';
export { type TwoWayResult, twoWayMerge } from './two-way-merge.js';
