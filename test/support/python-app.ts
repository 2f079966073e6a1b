/**
 * The second test application (examples/python-app/app.py): not Cutover's code, another runtime (Python's standard
 * library), started by the local platform as `platform.command`, or from a bundle by the hook server. It listens on
 * the PORT it is given and never writes CUTOVER_READY_FILE; its page latency, start delay and warm-up come from its
 * environment, as an ordinary application's settings would.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../examples/local-stack';
import type { FixtureSpecOverrides } from './fixture-core';

export const PYTHON_APP = path.join(projectRoot(), 'examples', 'python-app', 'app.py');

export interface PythonAppBehaviour {
  /** Every page takes this long (ms). */
  pageMs?: number;
  /** It prepares this long before it listens at all (ms). */
  startDelayMs?: number;
  /** Its health page answers 503 for this long once listening (ms). */
  warmupMs?: number;
}

/** Its environment: the behaviour, and the fixture's delivery log (it writes the same lines as the sample app). */
export function pythonEnv(deliveryLog: string, behaviour: PythonAppBehaviour = {}): Record<string, string> {
  return {
    PYAPP_DELIVERY_LOG: deliveryLog,
    PYAPP_SSE_INTERVAL_MS: '300',
    ...(behaviour.pageMs ? { PYAPP_PAGE_LATENCY_MS: String(behaviour.pageMs) } : {}),
    ...(behaviour.startDelayMs ? { PYAPP_START_DELAY_MS: String(behaviour.startDelayMs) } : {}),
    ...(behaviour.warmupMs ? { PYAPP_WARMUP_MS: String(behaviour.warmupMs) } : {}),
  };
}

/**
 * Spec overrides that deploy the Python application with this behaviour on the local platform (platform.command),
 * with the budgets given (platform.startTimeout, health.deadline), merged over `more`.
 */
export function pythonSpec(
  f: { deliveryLog: string },
  behaviour: PythonAppBehaviour & { startTimeout?: string; healthDeadline?: string } = {},
  more: FixtureSpecOverrides = {},
): FixtureSpecOverrides {
  return {
    ...more,
    env: { ...pythonEnv(f.deliveryLog, behaviour), ...more.env },
    platform: {
      command: ['python3', PYTHON_APP],
      ...(behaviour.startTimeout ? { startTimeout: behaviour.startTimeout } : {}),
      ...more.platform,
    },
    health: { ...(behaviour.healthDeadline ? { deadline: behaviour.healthDeadline } : {}), ...more.health },
  };
}

/** Ready files written under the platform's state directory: the Python application must never write one. */
export function readyFilesUnder(platformDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ready.json')) found.push(full);
    }
  };
  walk(platformDir);
  return found;
}

/** `count` module names: Module01, Module02, ... */
export function moduleNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `Module${String(i + 1).padStart(2, '0')}`);
}

/** The logs of the replicas of one version of an application (stdout + stderr), by replica id. */
export async function replicaLogs(
  f: { platform: { listReplicaSets(application: string): Promise<{ name: string; version: string }[]> } },
  platformDir: string,
  application: string,
  version: string,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const set of (await f.platform.listReplicaSets(application)).filter((s) => s.version === version)) {
    const dir = path.join(platformDir, 'platform', set.name, 'logs');
    for (const file of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      out[file.replace(/\.log$/, '')] = fs.readFileSync(path.join(dir, file), 'utf8');
    }
  }
  return out;
}

/** How often a pattern occurs in a text. */
export function occurrences(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
}
