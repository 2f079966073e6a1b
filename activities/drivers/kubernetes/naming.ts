/**
 * Names and labels of what the Kubernetes driver creates. A replica is one pod named `<replicaSet>-<index>`; a
 * replica set is one ConfigMap named `<replicaSet>` holding its record and owning its pods.
 */
import { replicaId, replicaIndexIn } from '../../../workflows/rolling-math';

export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'cutover';
export const LABEL_REPLICA_SET = 'cutover.io/replica-set';
/** A pod's index in its set (`<set>-<index>`): what retiring many replicas of one set selects them by. */
export const LABEL_REPLICA_INDEX = 'cutover.io/replica-index';
/** Informational (nothing selects on it); pods and records made before the rename carry `cutover.io/color`. */
export const LABEL_SLOT = 'cutover.io/slot';
export const LABEL_VERSION = 'cutover.io/version';
/** The version exactly as given (the label is shortened/cleaned to be a valid label value). */
export const ANNOTATION_VERSION = 'cutover.io/version';
/** On a pod that replaces one that ended (Failed/Succeeded): how many times its replica was replaced, and why last. */
export const ANNOTATION_REPLACEMENTS = 'cutover.io/replacements';
export const ANNOTATION_LAST_END = 'cutover.io/last-end';

/**
 * A valid label value from any string: at most 63 characters of [A-Za-z0-9._-], beginning and ending with a letter
 * or digit ("" if nothing is left).
 */
export function labelSafe(value: string): string {
  return value
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
}

export interface SetIdentity {
  name: string;
  application: string;
  version: string;
  slot: string;
}

/** Labels of a replica set's ConfigMap and of each of its pods. */
export function setLabels(set: SetIdentity): Record<string, string> {
  return {
    [LABEL_NAME]: set.application,
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_REPLICA_SET]: set.name,
    [LABEL_SLOT]: set.slot,
    [LABEL_VERSION]: labelSafe(set.version),
  };
}

/** Labels of one pod: its set's, and its index when its name has one. */
export function podLabels(set: SetIdentity, id: string): Record<string, string> {
  const index = replicaIndexIn(set.name, id);
  return { ...setLabels(set), ...(index === undefined ? {} : { [LABEL_REPLICA_INDEX]: String(index) }) };
}

/** Selects the pods of one replica set with these indexes. */
export function indexSelector(name: string, indexes: number[]): string {
  return `${setSelector(name)},${LABEL_REPLICA_INDEX} in (${indexes.join(',')})`;
}

/** The set a replica id `<set>-<index>` names (undefined without an index). */
export function setOfReplica(id: string): string | undefined {
  const match = /^(.+)-\d+$/.exec(id);
  return match?.[1];
}

/** Selects every replica set record (or pod) of an application. */
export function applicationSelector(application: string): string {
  return `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_NAME}=${application},${LABEL_REPLICA_SET}`;
}

/** Selects the pods of one replica set. */
export function setSelector(name: string): string {
  return `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_REPLICA_SET}=${name}`;
}

/** Pod name of replica `index` of a set: the replica id every platform uses, `<set>-<index>`. */
export const podName = replicaId;

/** The index at the end of a replica id (`<set>-<n>`), or undefined. */
export const replicaIndex = replicaIndexIn;

/** Replica ids in index order (ids without an index last, by name). */
export function byIndex(set: string, ids: string[]): string[] {
  const key = (id: string) => replicaIndex(set, id) ?? Number.MAX_SAFE_INTEGER;
  return [...ids].sort((a, b) => key(a) - key(b) || a.localeCompare(b));
}
