/**
 * Driver registry: turns the spec's `platform` / `router` sections into port
 * implementations. The worker injects this into createActivities(); tests
 * inject their own. Drivers are cached per configuration so connections and
 * clients are reused across activities.
 */
import * as path from 'node:path';
import type { PlatformConfig, RouterConfig } from '../../workflows/spec';
import { CutoverError, ErrorType } from '../errors';
import type { Platform, Router } from '../ports';
import { newAwsAlbDriver } from './aws-alb';
import { newKubernetesDriver } from './kubernetes';
import { newKubernetesServiceDriver } from './kubernetes-service';
import { newLocalPlatformDriver, newLocalRouterDriver } from './local';
import { newNginxDriver } from './nginx';

export interface Drivers {
  platform(config: PlatformConfig): Platform;
  router(config: RouterConfig): Router;
}

export interface DriverDefaults {
  /** Where the local platform keeps state when the spec does not say (CUTOVER_STATE_DIR, else ./.cutover/state). */
  localStateDir?: string;
}

function cached<C, T>(make: (config: C) => T): (config: C) => T {
  const cache = new Map<string, T>();
  return (config) => {
    const key = JSON.stringify(config);
    let driver = cache.get(key);
    if (!driver) {
      driver = make(config);
      cache.set(key, driver);
    }
    return driver;
  };
}

export function defaultDrivers(defaults: DriverDefaults = {}): Drivers {
  const localStateDir = path.resolve(
    defaults.localStateDir ?? process.env.CUTOVER_STATE_DIR ?? path.join('.cutover', 'state'),
  );
  return {
    platform: cached((config: PlatformConfig): Platform => {
      switch (config.kind) {
        case 'local':
          return newLocalPlatformDriver({
            stateDir: path.resolve(config.stateDir ?? localStateDir),
            command: config.command,
            env: config.env,
            startTimeoutMs: config.startTimeout,
          });
        case 'kubernetes': {
          const { kind: _kind, ...k8sConfig } = config;
          return newKubernetesDriver(k8sConfig);
        }
        default:
          throw new CutoverError(
            ErrorType.DriverUnavailable,
            `platform.kind "${(config as { kind: string }).kind}" is not available in this worker`,
          );
      }
    }),
    router: cached((config: RouterConfig): Router => {
      switch (config.kind) {
        case 'local':
          return newLocalRouterDriver({ adminUrl: config.adminUrl, publicUrl: config.publicUrl });
        case 'aws-alb': {
          const { kind: _kind, ...albConfig } = config;
          return newAwsAlbDriver(albConfig);
        }
        case 'nginx': {
          const { kind: _kind, ...nginxConfig } = config;
          return newNginxDriver(nginxConfig);
        }
        case 'kubernetes-service': {
          const { kind: _kind, ...serviceConfig } = config;
          return newKubernetesServiceDriver(serviceConfig);
        }
        default:
          throw new CutoverError(
            ErrorType.DriverUnavailable,
            `router.kind "${(config as { kind: string }).kind}" is not available in this worker`,
          );
      }
    }),
  };
}
