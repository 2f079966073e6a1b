/**
 * The AWS Application Load Balancer driver: `newAwsAlbDriver(config)` gives the Router port over the ELBv2 API.
 * SDK types stay in sdk.ts; the rest of the driver speaks the narrow ElbV2Api interface (api.ts).
 */
import type { Router } from '../../ports';
import type { ElbV2Api } from './api';
import type { Clock } from './health';
import { realClock } from './health';
import { AlbRouter } from './router';
import type { AwsAlbRouterConfig } from './config';
import { newSdkElbV2Api } from './sdk';

export type { AwsAlbRouterConfig } from './config';
export { DEFAULT_BACKEND } from './config';
export type { ElbV2Api } from './api';
export { newSdkElbV2Api } from './sdk';
export type { SdkElbV2Options } from './sdk';

export interface AwsAlbDriverOptions {
  /** The ELBv2 API to use (tests: a stub, or the SDK client with a call counter); default: the SDK client. */
  api?: ElbV2Api;
  clock?: Clock;
  /** Between two DescribeTargetHealth calls while waiting for health or draining (default 2 s). */
  pollMs?: number;
}

export function newAwsAlbDriver(config: AwsAlbRouterConfig, options: AwsAlbDriverOptions = {}): Router {
  const api = options.api ?? newSdkElbV2Api({ region: config.region, endpoint: config.endpoint });
  return new AlbRouter(config, { api, clock: options.clock ?? realClock, pollMs: options.pollMs });
}
