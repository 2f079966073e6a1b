/**
 * Where the external tools Cutover runs are: the Temporal CLI (dev server + UI), the time-skipping test server,
 * moto's AWS API server and Toxiproxy (the fault tests' TCP fault injector). `scripts/provision.sh` installs them and records their paths in `.cutover/tools.env`;
 * an environment variable of the same name overrides the file.
 *
 * No dependencies beyond Node built-ins, so scripts, the worker and the jest setup can all use it.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

export type ToolName = 'temporal' | 'temporal-test-server' | 'moto_server' | 'toxiproxy-server';

/** The environment variable (and `.cutover/tools.env` key) that names each tool's executable. */
export const TOOL_ENV_VARS: Readonly<Record<ToolName, string>> = {
  temporal: 'TEMPORAL_BIN',
  'temporal-test-server': 'TEMPORAL_TEST_SERVER_BIN',
  moto_server: 'MOTO_SERVER_BIN',
  'toxiproxy-server': 'TOXIPROXY_SERVER_BIN',
};

/** How to provision each tool (for the error message when it is missing). */
const PROVISION_HINT: Readonly<Record<ToolName, string>> = {
  temporal: '`make provision`',
  'temporal-test-server': '`make provision`',
  moto_server: '`make provision`',
  'toxiproxy-server': '`make provision PROVISION_ARGS="--with toxiproxy"` (needs go)',
};

/** The repository root: this file is `scripts/tools.ts` in the sources and `dist/scripts/tools.js` once built. */
export function repoRoot(): string {
  const up = __dirname.split(/[\\/]/).includes('dist') ? ['..', '..'] : ['..'];
  return resolve(__dirname, ...up);
}

/** Path of the tools file that `scripts/provision.sh` writes. `CUTOVER_TOOLS_ENV` points elsewhere if set. */
export function toolsEnvFile(): string {
  return process.env['CUTOVER_TOOLS_ENV'] ?? join(repoRoot(), '.cutover', 'tools.env');
}

/** Parses `KEY=value` lines; blank lines and `#` comments are skipped, surrounding quotes removed. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1);
    }
    out[key] = value;
  }
  return out;
}

function readToolsEnv(file: string): Record<string, string> {
  try {
    return parseEnvFile(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

/**
 * The absolute path of a provisioned tool's executable.
 *
 * Looks at the environment variable first (`TEMPORAL_BIN`, `TEMPORAL_TEST_SERVER_BIN`, `MOTO_SERVER_BIN`,
 * `TOXIPROXY_SERVER_BIN`), then at `.cutover/tools.env`. Throws, telling how to provision it, when neither names an
 * executable file.
 */
export function toolPath(name: ToolName): string {
  const key = TOOL_ENV_VARS[name];
  const file = toolsEnvFile();
  const fromEnv = process.env[key];
  const source = fromEnv ? `environment variable ${key}` : `${key} in ${file}`;
  const value = fromEnv || readToolsEnv(file)[key];
  if (!value) {
    throw new Error(
      `${name} is not provisioned: no ${key} in the environment or in ${file}; run ${PROVISION_HINT[name]}`,
    );
  }
  const path = isAbsolute(value) ? value : resolve(repoRoot(), value);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`${name}: ${path} (from ${source}) is not an executable file; run ${PROVISION_HINT[name]}`);
  }
  return path;
}
