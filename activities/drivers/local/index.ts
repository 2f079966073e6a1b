/** The local drivers: replicas are processes on this machine; the router is the embedded reverse proxy. */
export { newLocalPlatformDriver } from './platform';
export type { LocalPlatformConfig } from './platform';
export { newLocalRouterDriver } from './router';
export type { LocalRouterConfig } from './router';
export { startRouterServer } from './router-server';
export type { RouterServer, RouterServerOptions } from './router-server';
