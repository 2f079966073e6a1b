/**
 * The nginx driver: `newNginxDriver(config)` gives the Router port over configuration files in `confDir` that the
 * operator's nginx.conf includes (the OutSystems pattern), applied with `nginx -t` and a graceful reload.
 */
import type { Router } from '../../ports';
import { NginxRouter } from './router';
import type { NginxRouterConfig } from './router';

export type { NginxRouterConfig } from './router';
export { prepareConfDir } from './layout';
export { DEFAULT_BACKEND, FLAG_FILE } from './render';

export function newNginxDriver(config: NginxRouterConfig): Router {
  return new NginxRouter(config);
}
