/**
 * The deployment's visible state: phase (mirrored into a search attribute),
 * named steps with their timing, and a bounded list of notable events.
 * Everything here is deterministic workflow state; the `status` query reads it.
 *
 * The Temporal UI is the operator's console too: every activity a step schedules carries the step's name as its
 * summary (activity-presets.ts), and the workflow's current details (workflows/current-details.ts) are re-rendered
 * whenever the phase, a step, the gate or the events change. Neither is a new command: replay is unaffected.
 */
import { log, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { withSummary } from './activity-presets';
import { renderCurrentDetails } from './current-details';
import type { DeploymentSpec } from './spec';
import { applicationKey, environmentKey, phaseKey, strategyKey, versionKey } from './search-attributes';
import type { DeploymentStatus, Phase, StepRecord } from './types';

const MAX_EVENTS = 50;
const MAX_STEPS = 200;

export interface TrackerOptions {
  /** Upsert search attributes (off only where the server has none registered, e.g. some unit tests). */
  searchAttributes: boolean;
}

export class DeploymentTracker {
  readonly status: DeploymentStatus;
  /** What the strategy says it is doing now, beyond the step (a rolling batch's plan); shown in the details. */
  private noted?: string;

  constructor(
    spec: DeploymentSpec,
    strategy: DeploymentStatus['strategy'],
    private readonly options: TrackerOptions,
  ) {
    // A canary has no approval gate of its own: its pauses and inconclusive analyses wait for a decision.
    const approval =
      'approval' in spec.strategy
        ? spec.strategy.approval
        : { mode: 'required' as const, onTimeout: 'rollback' as const };
    this.status = {
      deploymentId: workflowInfo().workflowId,
      application: spec.application,
      environment: spec.environment,
      strategy,
      version: spec.version,
      phase: 'Validating',
      liveColor: null,
      liveVersion: null,
      previousVersion: null,
      targetColor: null,
      replicas: { desired: spec.replicas, launched: 0, healthy: 0 },
      approval: { mode: approval.mode, pending: false, onTimeout: approval.onTimeout },
      steps: [],
      events: [],
    };
    if (options.searchAttributes) {
      upsertSearchAttributes([
        { key: applicationKey, value: spec.application },
        { key: environmentKey, value: spec.environment },
        { key: strategyKey, value: strategy },
        { key: versionKey, value: spec.version },
        { key: phaseKey, value: 'Validating' },
      ]);
    }
    this.showDetails();
  }

  /** A continued run (continue-as-new) carries on with the status the previous run left, phase included. */
  resume(previous: DeploymentStatus): void {
    Object.assign(this.status, previous);
    if (this.options.searchAttributes) upsertSearchAttributes([{ key: phaseKey, value: previous.phase }]);
    this.showDetails();
  }

  /** A line on what the strategy is doing now (e.g. a rolling batch's plan), kept in the details until replaced. */
  note(text: string): void {
    this.noted = text;
    this.showDetails();
  }

  /** Renders the status into the workflow's current details (the UI's "Current Details"; not a command). */
  showDetails(): void {
    setCurrentDetails(renderCurrentDetails(this.status, this.noted));
  }

  setPhase(phase: Phase): void {
    if (this.status.phase === phase) return;
    this.status.phase = phase;
    if (this.options.searchAttributes) upsertSearchAttributes([{ key: phaseKey, value: phase }]);
    log.info('phase', { phase });
    this.showDetails();
  }

  event(message: string): void {
    this.status.events.push({ at: new Date().toISOString(), message });
    if (this.status.events.length > MAX_EVENTS) this.status.events.splice(0, this.status.events.length - MAX_EVENTS);
    this.showDetails();
  }

  /**
   * Runs one named step of the runbook, recording when it ran and how it ended; the activities it schedules carry
   * its name as their summary.
   */
  async step<T>(name: string, body: () => Promise<T>, detail?: (result: T) => string): Promise<T> {
    const record: StepRecord = { name, state: 'running', startedAt: new Date().toISOString() };
    this.status.steps.push(record);
    if (this.status.steps.length > MAX_STEPS) this.status.steps.splice(0, this.status.steps.length - MAX_STEPS);
    this.showDetails();
    try {
      const result = await withSummary(name, body);
      record.state = 'done';
      record.detail = detail?.(result);
      return result;
    } catch (err) {
      record.state = 'failed';
      record.detail = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      record.endedAt = new Date().toISOString();
      this.showDetails();
    }
  }

  skip(name: string, why: string): void {
    const now = new Date().toISOString();
    this.status.steps.push({ name, state: 'skipped', startedAt: now, endedAt: now, detail: why });
    this.showDetails();
  }

  compensated(name: string, ok: boolean, error?: string): void {
    const now = new Date().toISOString();
    this.status.steps.push({
      name: `undo: ${name}`,
      state: ok ? 'compensated' : 'failed',
      startedAt: now,
      endedAt: now,
      detail: error,
    });
    this.showDetails();
  }
}
