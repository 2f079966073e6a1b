/** The load generator for nginx tests: an ordinary HTTP/1.1 client (examples/http-load.ts). */
export { startHttpLoad } from '../../examples/http-load';
