/**
 * What the kubernetes-service router keeps on the Service, and the selectors it writes. A backend (`<application>-
 * blue`, `-green`) is the pods of one replica set of the Kubernetes platform: the selector of its labels
 * (kubernetes/naming.ts). Two annotations on the Service hold the router's state, so any worker reads the same:
 *
 * - `cutover.io/backends`: JSON, each backend's selector (written by ensureBackend);
 * - `cutover.io/selector-before-cutover`: JSON, the Service's selector before the first switch (written by that
 *   switch, put back and removed by removeModuleRule: its presence means Cutover's rule is in force).
 */
import { CutoverError, ErrorType } from '../../errors';
import { LABEL_MANAGED_BY, LABEL_NAME, LABEL_REPLICA_SET, MANAGED_BY } from '../kubernetes/naming';
import type { Selector, ServiceInfo } from './api';

export const ANNOTATION_BACKENDS = 'cutover.io/backends';
export const ANNOTATION_ORIGINAL = 'cutover.io/selector-before-cutover';

const BACKEND_RE = /^([a-z0-9]([a-z0-9-]*[a-z0-9])?)-(blue|green)$/;

/** The application of a backend `<application>-blue|green`; anything else is refused (no rolling backend). */
export function applicationOf(backend: string): string {
  const match = BACKEND_RE.exec(backend);
  if (!match?.[1]) {
    throw new CutoverError(
      ErrorType.RouterRequestRejected,
      `backend "${backend}": the kubernetes-service router switches between <application>-blue and <application>-green only`,
    );
  }
  return match[1];
}

/** The selector of one replica set's pods (the labels the platform gives each of them). */
export function replicaSetSelector(application: string, replicaSet: string): Selector {
  return { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_NAME]: application, [LABEL_REPLICA_SET]: replicaSet };
}

/** `k=v,...` in key order: a selector as a list call takes it, and as messages show it. */
export function selectorString(selector: Selector): string {
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(',');
}

export function sameSelector(a: Selector, b: Selector): boolean {
  return selectorString(a) === selectorString(b);
}

/** The merge patch of `spec.selector` that makes it exactly `wanted` (keys of `current` it lacks set to null). */
export function selectorPatch(current: Selector, wanted: Selector): Record<string, string | null> {
  const patch: Record<string, string | null> = { ...wanted };
  for (const key of Object.keys(current)) if (!(key in wanted)) patch[key] = null;
  return patch;
}

function parseJson<T>(service: ServiceInfo, annotation: string, check: (value: unknown) => value is T): T | undefined {
  const raw = service.annotations[annotation];
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = undefined;
  }
  if (!check(value)) {
    throw new CutoverError(
      ErrorType.RouterRequestRejected,
      `annotation ${annotation} of Service ${service.name} is not what Cutover writes (${raw.slice(0, 200)}); ` +
        'restore it or remove it by hand',
    );
  }
  return value;
}

const isStringMap = (v: unknown): v is Selector =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

const isBackendMap = (v: unknown): v is Record<string, Selector> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isStringMap);

/** Each recorded backend's selector. */
export function backendsOf(service: ServiceInfo): Record<string, Selector> {
  return parseJson(service, ANNOTATION_BACKENDS, isBackendMap) ?? {};
}

/** The selector before the first switch, or undefined when no switch is in force. */
export function originalOf(service: ServiceInfo): Selector | undefined {
  return parseJson(service, ANNOTATION_ORIGINAL, isStringMap);
}

/**
 * The backend the Service routes to under Cutover's rule: the recorded backend whose selector it has, or, for a
 * selector that none has (changed by hand), `selector(<k=v,...>)`, which is no backend of any application (discovery
 * refuses it as inconsistent routing). undefined when no switch is in force (the default rule: the selector as it was).
 */
export function routedBackend(service: ServiceInfo): string | undefined {
  if (!originalOf(service)) return undefined;
  const backends = backendsOf(service);
  const found = Object.keys(backends)
    .sort()
    .find((b) => sameSelector(backends[b] ?? {}, service.selector));
  return found ?? `selector(${selectorString(service.selector)})`;
}
