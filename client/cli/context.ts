/**
 * What every `cutover` command shares: the exit codes, the error that carries one, what the CLI may reach outside
 * itself (CliDeps), printing a result, and a client connected for the length of one command.
 */
import type { CutoverClient } from '../client';

export const EXIT = { ok: 0, deploymentFailed: 1, badInput: 2, unreachable: 3, refused: 4 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** What the CLI reaches outside itself; tests replace it (nothing may be contacted for bad input). */
export interface CliDeps {
  /** Connects to Temporal (TEMPORAL_* environment). */
  connect: () => Promise<CutoverClient>;
  /** `cutover worker`. */
  runWorker: () => Promise<void>;
  out: (text: string) => void;
  err: (text: string) => void;
}

export function print(deps: CliDeps, json: boolean, value: unknown, human: () => string): void {
  deps.out(`${json ? JSON.stringify(value, null, 2) : human()}\n`);
}

export async function withClient<T>(deps: CliDeps, fn: (client: CutoverClient) => Promise<T>): Promise<T> {
  let client: CutoverClient;
  try {
    client = await deps.connect();
  } catch (err) {
    // A bad payload-encryption key configuration (shared/codec.ts) is bad input, not an unreachable server.
    if ((err as Error).name === 'CodecConfigError') throw new CliError((err as Error).message, EXIT.badInput);
    throw new CliError(
      `cannot reach Temporal at ${process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233'}: ${(err as Error).message}`,
      EXIT.unreachable,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
