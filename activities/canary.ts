/**
 * The canary's own activity: the split measured through the load balancer after a weight is set and read back
 * (switchTraffic reads the rules back; this checks what clients actually get, Argo Rollouts #701/#3926/#4595).
 */
import type { RouterConfig } from '../workflows/spec';
import { activity } from './activity';
import type { Drivers } from './drivers';

export interface MeasureSplitInput {
  router: RouterConfig;
  modules: string[];
  canaryVersion: string;
  stableVersion: string;
  /** The weight set (percent of each module's traffic to the canary). */
  weight: number;
  /** Requests per module. */
  requests: number;
  concurrency: number;
}

export interface SplitMeasurement {
  weight: number;
  /** not-supported: the router cannot send traffic through its load balancer (e.g. an ALB without publicUrl). */
  status: 'measured' | 'not-supported';
  requests: number;
  canary: number;
  stable: number;
  /** Answers of another version, without one, or none at all. */
  other: number;
  /** Percent of the answers that came from the canary (one decimal). */
  share: number;
  /** Percentage points the share may differ from the weight by chance (4 standard deviations, and one request). */
  tolerance: number;
  withinTolerance: boolean;
  detail: string;
}

/** 4σ of a binomial share over n requests, in percentage points, plus one request's worth; 0 at 0 % and 100 %. */
export function splitTolerance(weight: number, n: number): number {
  if (weight <= 0 || weight >= 100 || n === 0) return 0;
  const p = weight / 100;
  return round1(400 * Math.sqrt((p * (1 - p)) / n) + 100 / n);
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export function createCanaryActivities(drivers: Drivers) {
  return {
    /** Sends requests through the load balancer and compares the canary's share of the answers with the weight. */
    async measureSplit(input: MeasureSplitInput): Promise<SplitMeasurement> {
      return activity(async (progress) => {
        const sampling = drivers.router(input.router).sampling;
        const base = { weight: input.weight, requests: 0, canary: 0, stable: 0, other: 0, share: 0, tolerance: 0 };
        if (!sampling) {
          // The ALB is sampled through its public URL, which its router section may leave out: say so.
          const why =
            input.router.kind === 'aws-alb' && !input.router.publicUrl ? ' (router.publicUrl is not set)' : '';
          return {
            ...base,
            status: 'not-supported',
            withinTolerance: true,
            detail: `the ${input.router.kind} router cannot send requests through its load balancer${why}: split not measured (the rules read back)`,
          };
        }
        let canary = 0;
        let stable = 0;
        let other = 0;
        for (const module of input.modules) {
          const sample = await sampling.sample(module, input.requests, {
            concurrency: input.concurrency,
            signal: progress.signal,
          });
          for (const [version, n] of Object.entries(sample.byVersion)) {
            if (version === input.canaryVersion) canary += n;
            else if (version === input.stableVersion) stable += n;
            else other += n;
          }
          progress.report({ module, canary, stable, other });
        }
        const requests = canary + stable + other;
        const share = requests ? round1((100 * canary) / requests) : 0;
        const tolerance = splitTolerance(input.weight, requests);
        const withinTolerance = other === 0 && Math.abs(share - input.weight) <= tolerance;
        const detail =
          `${share}% of ${requests} answers from ${input.canaryVersion} (weight ${input.weight}%, ±${tolerance})` +
          (other ? `; ${other} answers from neither version` : '');
        return {
          weight: input.weight,
          status: 'measured',
          requests,
          canary,
          stable,
          other,
          share,
          tolerance,
          withinTolerance,
          detail,
        };
      });
    },
  };
}

export type CanaryActivities = ReturnType<typeof createCanaryActivities>;
