/**
 * The one-way layering that eslint.config.mjs enforces (docs/architecture.md): workflows/ imports only workflows/
 * (values of activities/ports and activities/errors, types of the rest); activities/ never import client/; client/
 * and shared/ import the workflows' contract only, never an activity or a workflow implementation; shared/ imports
 * neither side. Each import is linted as if written in a file of that folder, by the project's own ESLint
 * configuration (just the import rule, in a child process: jest cannot load the ESM configuration itself).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

interface Probe {
  /** A file (need not exist) in the folder whose rule applies. */
  file: string;
  source: string;
}

const LINT = `
import { ESLint } from 'eslint';
const probes = JSON.parse(process.argv[1]);
const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
  ruleFilter: ({ ruleId }) => ruleId === '@typescript-eslint/no-restricted-imports',
});
const out = [];
for (const { file, source } of probes) {
  const [result] = await eslint.lintText(source + '\\n', { filePath: file });
  out.push(result.messages.map((m) => m.message));
}
process.stdout.write(JSON.stringify(out));
`;

/** The import rule's messages for each probe. */
function lint(probes: Probe[]): string[][] {
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', LINT, JSON.stringify(probes)], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return JSON.parse(stdout) as string[][];
}

const refused: Probe[] = [
  { file: 'workflows/outsystems/probe.ts', source: "import { confinePath } from '../../shared/outsystems';" },
  { file: 'workflows/outsystems/probe.ts', source: "import { unpackBundle } from '../../activities/outsystems';" },
  { file: 'workflows/probe.ts', source: "import { createBuildActivities } from '../activities/outsystems/builds';" },
  { file: 'workflows/probe.ts', source: "import { CutoverClient } from '../client/client';" },
  { file: 'workflows/probe.ts', source: "import { parse } from 'yaml';" },
  { file: 'activities/outsystems/probe.ts', source: "import { hookPath } from '../../client/outsystems/server';" },
  { file: 'activities/drivers/local/probe.ts', source: "import type { X } from '../../../client/connection';" },
  { file: 'client/probe.ts', source: "import { outSystemsHookOperation } from '../workflows/outsystems/operation';" },
  { file: 'client/probe.ts', source: "import { blueGreenDeployment } from '../workflows';" },
  { file: 'client/outsystems/probe.ts', source: "import { unpackBundle } from '../../activities/outsystems';" },
  { file: 'shared/outsystems/probe.ts', source: "import { hookPath } from '../../client/outsystems/server';" },
  { file: 'shared/outsystems/probe.ts', source: "import { writeFileAtomic } from '../../activities/fs/atomic-file';" },
];

const allowed: Probe[] = [
  { file: 'workflows/outsystems/probe.ts', source: "import { backendName } from '../../activities/ports';" },
  { file: 'workflows/probe.ts', source: "import { ErrorType } from '../activities/errors';" },
  { file: 'workflows/probe.ts', source: "import type { Activities } from '../activities';" },
  { file: 'workflows/probe.ts', source: "import { z } from 'zod';" },
  { file: 'workflows/probe.ts', source: "import { Environment } from '@marcbachmann/cel-js';" },
  { file: 'activities/outsystems/probe.ts', source: "import { confinePath } from '../../shared/outsystems';" },
  { file: 'activities/probe.ts', source: "import { Client } from '@temporalio/client';" },
  { file: 'client/probe.ts', source: "import { hookStatusQuery } from '../workflows/outsystems/messages';" },
  { file: 'client/outsystems/probe.ts', source: "import { resultFileName } from '../../workflows/outsystems/types';" },
  { file: 'client/outsystems/probe.ts', source: "import { SPEC_LIMITS } from '../../workflows/spec';" },
  { file: 'client/outsystems/probe.ts', source: "import { writeResultFile } from '../../shared/outsystems';" },
  { file: 'client/probe.ts', source: "import type { OutSystemsActivities } from '../activities/outsystems';" },
  { file: 'shared/outsystems/probe.ts', source: "import type { HookStage } from '../../workflows/outsystems/types';" },
];

describe('eslint.config.mjs keeps the layers importing one way', () => {
  const results = lint([...refused, ...allowed]);

  test.each(refused.map((probe, i) => ({ ...probe, i })))('refused in $file: $source', ({ i }) => {
    expect(results[i]).toEqual([expect.stringMatching(/import is restricted/)]);
  });

  test.each(allowed.map((probe, i) => ({ ...probe, i: refused.length + i })))('allowed in $file: $source', ({ i }) => {
    expect(results[i]).toEqual([]);
  });
});
