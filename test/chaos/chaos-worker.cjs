/**
 * A Cutover worker process (the built worker, default drivers) that carries out a chaos plan at one activity:
 * SIGKILLs itself, or holds the activity for a while, at a chosen point of a chosen attempt. The test that starts it
 * reads marker files to know when the point is reached, and starts a plain worker to take over after a kill.
 *
 * Environment (besides the worker's own TEMPORAL_*):
 *   CHAOS_PLAN        JSON: { activity, when, action, afterMs?, holdMs?, nth?, newRun? }
 *                       activity  the activity type, e.g. "scaleUpReplicaSet"
 *                       when      "before" (nothing done yet), "during" (afterMs into it, still running),
 *                                 "after" (its effect done, its completion not reported)
 *                       action    "kill" (SIGKILL this process) | "hold" (wait holdMs, then go on)
 *                       nth       the nth execution of that activity in this process (default 1)
 *                       newRun    only in a run other than the first this process saw of the workflow
 *                                 (after a continue-as-new)
 *   CHAOS_MARKER_DIR  where "<activity>.reached" is written when the point is reached (before acting)
 *
 * Plain CommonJS over dist/ (the tests' own TypeScript is not built): `make build` first, as `make test` does.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { Context } = require('@temporalio/activity');
const { createWorker } = require('../../dist/worker');

const plan = JSON.parse(process.env.CHAOS_PLAN ?? 'null');
const markerDir = process.env.CHAOS_MARKER_DIR;
if (!plan || !markerDir) throw new Error('CHAOS_PLAN and CHAOS_MARKER_DIR are required');
const nth = plan.nth ?? 1;
const firstRunOf = new Map();
let seen = 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function reach() {
  fs.writeFileSync(path.join(markerDir, `${plan.activity}.reached`), `${process.pid}\n`);
  if (plan.action === 'kill') {
    process.kill(process.pid, 'SIGKILL');
    await sleep(60_000); // never reached: SIGKILL cannot be caught
  }
  await sleep(plan.holdMs ?? 0);
}

function isTheTarget() {
  const info = Context.current().info;
  if (info.activityType !== plan.activity) return false;
  const { workflowId, runId } = info.workflowExecution;
  if (!firstRunOf.has(workflowId)) firstRunOf.set(workflowId, runId);
  if (plan.newRun && firstRunOf.get(workflowId) === runId) return false;
  seen++;
  return seen === nth;
}

const chaos = () => ({
  inbound: {
    async execute(input, next) {
      if (!isTheTarget()) return next(input);
      if (plan.when === 'before') await reach();
      const result = next(input);
      if (plan.when === 'during') {
        await Promise.race([sleep(plan.afterMs ?? 0), result.catch(() => undefined)]);
        await reach();
      }
      const value = await result;
      if (plan.when === 'after') await reach();
      return value;
    },
  },
});

async function main() {
  const { worker, close } = await createWorker({ options: { interceptors: { activity: [chaos] } } });
  try {
    await worker.run();
  } finally {
    await close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
