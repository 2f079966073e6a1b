/** The load generator for tests: the same one the demo runs (examples/load.ts). */
export { startLoad } from '../../examples/load';
export type { Load, LoadOptions, LoadReport } from '../../examples/load';
