/**
 * Compensation stack (samples-typescript `saga`): each step pushes its undo
 * *before* it runs, because every undo is idempotent and a step interrupted by
 * an abort may have taken effect. Undos run in reverse, in a non-cancellable
 * scope, so an abort still cleans up.
 */
import { CancellationScope, log } from '@temporalio/workflow';
import { withSummary } from './activity-presets';

export interface Compensation {
  name: string;
  undo: () => Promise<void>;
}

export interface CompensationReport {
  undone: string[];
  failed: { name: string; error: string }[];
}

export class Compensations {
  private readonly stack: Compensation[] = [];

  push(name: string, undo: () => Promise<void>): void {
    this.stack.push({ name, undo });
  }

  /** Drops an undo that is no longer wanted (its step was reversed on the happy path). */
  discard(name: string): void {
    const index = this.stack.map((c) => c.name).lastIndexOf(name);
    if (index >= 0) this.stack.splice(index, 1);
  }

  /** Forgets everything: the point of no return has passed. */
  clear(): void {
    this.stack.length = 0;
  }

  /** Whether an undo of this name is on the stack. */
  has(name: string): boolean {
    return this.stack.some((c) => c.name === name);
  }

  get size(): number {
    return this.stack.length;
  }

  /** Runs every undo, newest first; keeps going past failures and reports them. */
  async run(onStep?: (name: string, ok: boolean, error?: string) => void): Promise<CompensationReport> {
    const report: CompensationReport = { undone: [], failed: [] };
    await CancellationScope.nonCancellable(async () => {
      while (this.stack.length) {
        const next = this.stack.pop() as Compensation;
        try {
          // Its activities read as the undo in the Temporal UI's timeline.
          await withSummary(`undo: ${next.name}`, next.undo);
          report.undone.push(next.name);
          onStep?.(next.name, true);
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          log.error('compensation failed', { step: next.name, error });
          report.failed.push({ name: next.name, error });
          onStep?.(next.name, false, error);
        }
      }
    });
    return report;
  }
}
