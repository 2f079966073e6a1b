/**
 * A Container Build's commands: the profile's build command, run in the unpacked bundle (its output's tail becomes
 * the BuildFailed message), and the replica command the build records for the Run (the profile's, the bundle
 * manifest's, or the platform's default).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { z } from 'zod';
import type { BuildOptions, BuildRecord } from '../../workflows/outsystems/types';
import { ErrorType, permanentFailure } from '../errors';
import { readJson } from './layout';

/** The optional manifest a bundle may carry at its root to say how its replicas start. */
export const BUNDLE_MANIFEST = 'cutover.json';

const manifestSchema = z
  .object({
    /** Run from the bundle's directory; PORT, CUTOVER_READY_FILE... as for any local replica. */
    command: z.array(z.string().min(1)).min(1),
  })
  .strict();

/** What the build command is told about the build (as environment variables). */
export interface BuildCommandContext {
  application: string;
  version: string;
  applicationKey: string;
  operationId: string;
  build: Pick<BuildOptions, 'timeoutMs'>;
}

/** The replica command of a build: the profile's, the bundle manifest's (run from the bundle), or none. */
export async function replicaCommand(
  bundleDir: string,
  profileCommand: string[] | undefined,
): Promise<Pick<BuildRecord, 'command' | 'commandSource'>> {
  if (profileCommand) {
    return { command: profileCommand.map((a) => a.replaceAll('{bundleDir}', bundleDir)), commandSource: 'profile' };
  }
  const manifest = await readJson<unknown>(path.join(bundleDir, BUNDLE_MANIFEST)).catch((err: Error) => {
    throw permanentFailure(ErrorType.BundleInvalid, `${BUNDLE_MANIFEST} is not valid JSON: ${err.message}`);
  });
  if (manifest === undefined) return { commandSource: 'platform default' };
  const parsed = manifestSchema.safeParse(manifest);
  if (!parsed.success) {
    throw permanentFailure(
      ErrorType.BundleInvalid,
      `${BUNDLE_MANIFEST}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  // The local platform starts replicas from the project directory: the shell changes into the bundle first.
  return {
    command: ['/bin/sh', '-c', 'cd "$1" && shift && exec "$@"', 'cutover-replica', bundleDir, ...parsed.data.command],
    commandSource: 'bundle manifest',
  };
}

/** Runs the profile's build command in the bundle; throws BuildFailed with the output's tail. */
export async function runBuildCommand(command: string[], bundleDir: string, input: BuildCommandContext): Promise<void> {
  const [executable, ...args] = command.map((a) => a.replaceAll('{bundleDir}', bundleDir));
  if (!executable) return;
  const output: string[] = [];
  const code = await new Promise<number | string>((resolve) => {
    const child = spawn(executable, args, {
      cwd: bundleDir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? bundleDir,
        CUTOVER_BUNDLE_DIR: bundleDir,
        CUTOVER_APP: input.application,
        CUTOVER_VERSION: input.version,
        OUTSYSTEMS_APPLICATION_KEY: input.applicationKey,
        OUTSYSTEMS_OPERATION_ID: input.operationId,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: input.build.timeoutMs,
      killSignal: 'SIGKILL',
    });
    const keep = (chunk: Buffer) => {
      output.push(chunk.toString('utf8'));
      if (output.length > 200) output.splice(0, output.length - 200);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => resolve(err.message));
    child.once('close', (exitCode, signal) => resolve(signal ? `killed by ${signal}` : (exitCode ?? -1)));
  });
  if (code !== 0) {
    const tail = output.join('').trimEnd().split('\n').slice(-10).join('\n');
    throw permanentFailure(
      ErrorType.BuildFailed,
      `build command ${JSON.stringify(executable)} ${typeof code === 'number' ? `exited with code ${code}` : code}` +
        (tail ? `; last output:\n${tail}` : ''),
    );
  }
}
