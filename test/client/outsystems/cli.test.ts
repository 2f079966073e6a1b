/** `cutover hooks serve` as an operator runs it: the built CLI, a configuration file, the token from the environment. */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { stringify } from 'yaml';
import { projectRoot } from '../../../examples/local-stack';
import { temporalAddress } from '../../support/local-fixture';
import { HOOK_TOKEN, makeHookDirs } from '../../support/hooks';
import type { HookDirs } from '../../support/hooks';

const CLI = path.join(projectRoot(), 'bin', 'cutover.js');

describe('cutover hooks serve', () => {
  let dirs: HookDirs;
  let configFile: string;

  beforeEach(() => {
    dirs = makeHookDirs('cli');
    configFile = path.join(dirs.base, 'hooks.yaml');
    fs.writeFileSync(
      configFile,
      stringify({
        auth: { tokenEnv: 'CUTOVER_HOOK_TOKEN' },
        roots: { target: [dirs.target], result: [dirs.result] },
        buildsRoot: dirs.builds,
        profiles: {},
        applications: [],
      }),
    );
  });

  afterEach(() => fs.rmSync(dirs.base, { recursive: true, force: true }));

  test('serves the hook endpoints, prints the trigger URLs, stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, 'hooks', 'serve', '--config', configFile, '--port', '0'], {
      env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress(), CUTOVER_HOOK_TOKEN: HOOK_TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const lines = readline.createInterface({ input: child.stderr });
      const printed: string[] = [];
      for await (const line of lines) {
        printed.push(line);
        if (printed.length === 5) break;
      }
      const url = /serving on (http:\/\/\S+);/.exec(printed[0] ?? '')?.[1];
      expect(url).toBeDefined();
      expect(printed.slice(1).map((l) => l.trim().split(/\s{2,}/)[0])).toEqual([
        'Container Build',
        'Container Run',
        'Update Configurations',
        'Container Remove',
      ]);
      expect(printed.join('\n')).toContain(`${url}/hooks/container-run?token=<token>`);
      expect(printed.join('\n')).not.toContain(HOOK_TOKEN);

      expect((await fetch(`${url}/hooks/container-build?token=${HOOK_TOKEN}`)).status).toBe(200);
      expect((await fetch(`${url}/hooks/container-build?token=wrong-token-000000`)).status).toBe(403);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  test('a configuration problem exits 2 naming the field; a missing token exits 2', () => {
    const bad = path.join(dirs.base, 'bad.yaml');
    fs.writeFileSync(bad, stringify({ auth: { tokenEnv: 'X' }, roots: { target: ['relative'], result: ['/r'] } }));
    const invalid = spawnSync(process.execPath, [CLI, 'hooks', 'serve', '--config', bad], { encoding: 'utf8' });
    expect(invalid.status).toBe(2);
    expect(invalid.stderr).toMatch(/roots\.target\.0: a target root must be an absolute path/);

    const env = { ...process.env };
    delete env.CUTOVER_HOOK_TOKEN;
    const noToken = spawnSync(process.execPath, [CLI, 'hooks', 'serve', '--config', configFile], {
      encoding: 'utf8',
      env,
    });
    expect(noToken.status).toBe(2);
    expect(noToken.stderr).toMatch(/hook token \(environment variable CUTOVER_HOOK_TOKEN\) is not set/);
  });
});
