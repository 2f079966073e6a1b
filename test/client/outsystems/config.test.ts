/** The hook configuration file: validation naming fields, token sources, application mapping. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  applicationNameFrom,
  HookConfigError,
  loadHookConfig,
  loadHookToken,
  resolveApplication,
  validateHookConfig,
} from '../../../client/outsystems/config';
import type { HookConfigInput } from '../../../client/outsystems/config';
import type { HookCall } from '../../../workflows/outsystems/types';

const profile = {
  environment: 'production',
  platform: { kind: 'local' },
  router: { kind: 'local', adminUrl: 'http://127.0.0.1:18081', publicUrl: 'http://127.0.0.1:18080' },
  strategy: { type: 'blue-green', approval: { mode: 'required', timeout: '20m' } },
};

function config(overrides: Partial<HookConfigInput> = {}): HookConfigInput {
  return {
    auth: { tokenEnv: 'CUTOVER_HOOK_TOKEN' },
    roots: { target: ['/srv/os'], result: ['/srv/os'] },
    buildsRoot: '/var/lib/cutover/builds',
    profiles: { containers: profile },
    applications: [
      { key: '0F8E6C1A-0000-0000-0000-000000000001', profile: 'containers', application: 'portal' },
      { name: 'Back Office', profile: 'containers' },
    ],
    ...overrides,
  };
}

const call = (key: string, name: string): HookCall => ({
  address: 'x',
  applicationKey: key,
  applicationName: name,
  operationId: 'op',
  modules: [],
});

describe('hook configuration', () => {
  test('defaults: 30-minute hook timeouts, token parameter "token", port 8480', () => {
    const c = validateHookConfig(config());
    expect(c.timeouts).toEqual({ build: 1_800_000, run: 1_800_000, configs: 1_800_000, remove: 1_800_000 });
    expect(c.auth.queryParameter).toBe('token');
    expect(c.server).toEqual({ host: '127.0.0.1', port: 8480, probes: true });
  });

  test('the example configuration is valid', () => {
    const c = loadHookConfig(path.join(__dirname, '../../../examples/hooks.yaml'));
    expect(Object.keys(c.profiles).length).toBeGreaterThan(0);
  });

  test('a profile is checked as a deployment spec, naming the field', () => {
    const bad = { ...profile, strategy: { type: 'blue-green', rollbackWindow: 'soon' } };
    expect(() => validateHookConfig(config({ profiles: { containers: bad } }))).toThrow(
      /profiles\.containers\.strategy\.rollbackWindow: expected a duration/,
    );
  });

  test("a blue-green profile whose rollback window and health deadline do not fit in the run hook's timeout is refused", () => {
    const long = { ...profile, strategy: { type: 'blue-green', rollbackWindow: '25m' }, health: { deadline: '5m' } };
    expect(() => validateHookConfig(config({ profiles: { containers: long } }))).toThrow(
      /profiles\.containers\.strategy\.rollbackWindow: with health\.deadline it takes 30 min, which does not fit in the run hook's timeout minus finishMargin \(28 min\)/,
    );
    // The same profile fits a longer run hook.
    expect(() => validateHookConfig(config({ profiles: { containers: long }, timeouts: { run: '1h' } }))).not.toThrow();
  });

  test('a canary profile is accepted with its steps and analysis; a bad step or template is refused naming the field', () => {
    const analysis = {
      templates: {
        errors: {
          metrics: [
            {
              name: 'errors',
              provider: { prometheus: { address: 'http://127.0.0.1:9090', query: 'sum(up)' } },
              successCondition: 'result < 1.0',
            },
          ],
        },
      },
    };
    const steps = [{ setWeight: 50 }, { pause: { duration: '2s' } }, { analysis: { templates: ['errors'] } }];
    const canary = { ...profile, strategy: { type: 'canary', steps: [...steps, { setWeight: 100 }] }, analysis };
    const c = validateHookConfig(config({ profiles: { containers: canary } }));
    expect(c.profiles.containers?.analysis).toEqual(analysis);

    const tooHeavy = { ...canary, strategy: { type: 'canary', steps: [{ setWeight: 150 }, { setWeight: 100 }] } };
    expect(() => validateHookConfig(config({ profiles: { containers: tooHeavy } }))).toThrow(
      /profiles\.containers\.strategy\.steps\.0\.setWeight: must be at most 100/,
    );
    const unknownTemplate = { ...canary, analysis: undefined };
    expect(() => validateHookConfig(config({ profiles: { containers: unknownTemplate } }))).toThrow(
      /profiles\.containers\.strategy\.steps\.2\.analysis\.templates\.0: /,
    );
  });

  test("a canary profile whose timed pauses and analyses do not fit in the run hook's timeout is refused", () => {
    const steps = [{ setWeight: 10 }, { pause: { duration: '20m' } }, { setWeight: 100 }];
    const long = { ...profile, strategy: { type: 'canary', steps }, health: { deadline: '10m' } };
    expect(() => validateHookConfig(config({ profiles: { containers: long } }))).toThrow(
      /profiles\.containers\.strategy\.steps: with health\.deadline its timed pauses and analysis steps take 30 min, which does not fit in the run hook's timeout minus finishMargin \(28 min\)/,
    );
    expect(() => validateHookConfig(config({ profiles: { containers: long }, timeouts: { run: '1h' } }))).not.toThrow();
  });

  test('a rolling profile is refused: the hook server runs blue-green and canary', () => {
    const rolling = { ...profile, strategy: { type: 'rolling' } };
    expect(() => validateHookConfig(config({ profiles: { containers: rolling } }))).toThrow(
      /profiles\.containers\.strategy\.type: the hook server runs blue-green, canary, not rolling/,
    );
  });

  test('a mapping to a missing profile, or with neither key nor name, is refused', () => {
    expect(() => validateHookConfig(config({ applications: [{ key: 'k', profile: 'nope' }] }))).toThrow(
      /applications\.0\.profile: no profile named "nope"/,
    );
    expect(() => validateHookConfig(config({ applications: [{ profile: 'containers' }] }))).toThrow(/give key or name/);
  });

  test('the token itself may not be in the file; exactly one token source', () => {
    expect(() => validateHookConfig({ ...config(), token: 'secret' })).toThrow(/never goes into this file/);
    expect(() => validateHookConfig(config({ auth: { tokenEnv: 'A', tokenFile: '/x' } }))).toThrow(/exactly one/);
  });

  test('roots must be absolute', () => {
    expect(() => validateHookConfig(config({ roots: { target: ['rel'], result: ['/r'] } }))).toThrow(
      /roots\.target\.0: a target root must be an absolute path/,
    );
  });

  test('the token is read from the environment or a file, and must be long enough', () => {
    const c = validateHookConfig(config());
    expect(loadHookToken(c, { CUTOVER_HOOK_TOKEN: ' 0123456789abcdef \n' })).toBe('0123456789abcdef');
    expect(() => loadHookToken(c, {})).toThrow(/CUTOVER_HOOK_TOKEN\) is not set/);
    expect(() => loadHookToken(c, { CUTOVER_HOOK_TOKEN: 'short' })).toThrow(/shorter than 16/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-token-'));
    try {
      fs.writeFileSync(path.join(dir, 'token'), 'fedcba9876543210fedcba\nignored');
      const fromFile = validateHookConfig(config({ auth: { tokenFile: path.join(dir, 'token') } }));
      expect(loadHookToken(fromFile, {})).toBe('fedcba9876543210fedcba');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('applications map by key (case-insensitive) first, then by name', () => {
    const c = validateHookConfig(config());
    expect(resolveApplication(c, call('0f8e6c1a-0000-0000-0000-000000000001', 'Whatever'))).toMatchObject({
      application: 'portal',
      profileName: 'containers',
    });
    expect(resolveApplication(c, call('other', 'back office'))?.application).toBe('back-office');
    expect(resolveApplication(c, call('other', 'Unknown App'))).toBeUndefined();
  });

  test('Cutover names derived from OutSystems names are DNS labels', () => {
    expect(applicationNameFrom('Customer Portal (v2)!')).toBe('customer-portal-v2');
    expect(applicationNameFrom('Café Ünïcode')).toBe('cafe-unicode');
  });

  test('errors carry the file name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-hookcfg-'));
    try {
      const file = path.join(dir, 'hooks.yaml');
      fs.writeFileSync(file, 'auth: [');
      expect(() => loadHookConfig(file)).toThrow(HookConfigError);
      expect(() => loadHookConfig(file)).toThrow(/hooks\.yaml is not valid YAML/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
