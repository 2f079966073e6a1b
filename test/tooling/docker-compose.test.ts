/**
 * docker-compose.yml and the Dockerfile. No Docker engine runs on the build machines, so: Debian's docker-compose
 * (`scripts/provision.sh --with compose`) validates and resolves the file with `docker-compose config`, which needs
 * no engine; the Prometheus configuration and alerting rules it mounts are checked and unit-tested with promtool
 * (`--with prometheus`); the rest is checked statically.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadHookConfig } from '../../client/outsystems/config';
import { parseEnvFile, toolsEnvFile } from '../../scripts/tools';
import { CUTOVER_SEARCH_ATTRIBUTES } from '../support/temporal';

const ROOT = resolve(__dirname, '..', '..');

interface Service {
  image?: string;
  secrets?: (string | { source: string; target?: string })[];
  volumes?: (string | { type?: string; source?: string; target: string })[];
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: (string | number | { published?: string | number; target?: number })[];
}

interface Compose {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as Compose;
const services = compose.services;

function service(name: string): Service {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

function env(svc: Service): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(svc.environment)) {
    for (const entry of svc.environment) {
      const eq = entry.indexOf('=');
      out[eq < 0 ? entry : entry.slice(0, eq)] = eq < 0 ? '' : entry.slice(eq + 1);
    }
  } else {
    for (const [key, value] of Object.entries(svc.environment ?? {})) out[key] = value === null ? '' : String(value);
  }
  return out;
}

function dependsOn(svc: Service): string[] {
  const deps = svc.depends_on ?? [];
  return Array.isArray(deps) ? deps : Object.keys(deps);
}

function words(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(' ') : (value ?? '');
}

/** Host ports a service publishes ("8233:8080" -> 8233; "127.0.0.1:7233:7233" -> 7233; long syntax too). */
function publishedPorts(svc: Service): number[] {
  return (svc.ports ?? []).map((port) => {
    if (typeof port === 'object') return Number(port.published ?? port.target);
    const parts = String(port).split('/')[0]!.split(':');
    return Number(parts.length === 1 ? parts[0] : parts[parts.length - 2]);
  });
}

describe('docker-compose.yml', () => {
  it('has the Temporal stack, the worker, the codec server, the hook server and Prometheus', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining([
        'postgresql',
        'temporal',
        'temporal-admin-tools',
        'temporal-ui',
        'worker',
        'codec-server',
        'hooks',
        'prometheus',
      ]),
    );
  });

  it('runs PostgreSQL 16 and Temporal auto-setup on it', () => {
    expect(service('postgresql').image).toBe('postgres:16');
    const temporal = service('temporal');
    expect(temporal.image).toMatch(/^temporalio\/auto-setup:/);
    expect(env(temporal)).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(dependsOn(temporal)).toContain('postgresql');
    expect(publishedPorts(temporal)).toContain(7233);
  });

  it('registers the five Cutover search attributes against the temporal service', () => {
    const admin = service('temporal-admin-tools');
    expect(admin.image).toMatch(/^temporalio\/admin-tools:/);
    expect(env(admin)['TEMPORAL_ADDRESS']).toBe('temporal:7233');
    expect(dependsOn(admin)).toContain('temporal');
    const script = words(admin.command);
    expect(script).toContain('temporal operator search-attribute create');
    expect(script).toContain('--type Keyword');
    for (const name of CUTOVER_SEARCH_ATTRIBUTES) expect(script).toContain(name);
  });

  it('points the Web UI at the temporal service on port 8233', () => {
    const ui = service('temporal-ui');
    expect(ui.image).toMatch(/^temporalio\/ui:/);
    expect(env(ui)['TEMPORAL_ADDRESS']).toBe('temporal:7233');
    expect(ui.ports).toContain('8233:8080');
    expect(dependsOn(ui)).toContain('temporal');
  });

  it('builds the worker from this repository and runs `cutover worker` against temporal', () => {
    const worker = service('worker');
    const build = worker.build;
    expect(typeof build === 'string' ? build : build?.context).toBe('.');
    expect(words(worker.command)).toBe('node bin/cutover.js worker');
    expect(existsSync(join(ROOT, 'bin', 'cutover.js'))).toBe(true);
    expect(env(worker)['TEMPORAL_ADDRESS']).toBe('temporal:7233');
    expect(dependsOn(worker)).toEqual(expect.arrayContaining(['temporal', 'temporal-admin-tools']));
  });

  it('names only existing services in depends_on', () => {
    const missing = Object.entries(services).flatMap(([name, svc]) =>
      dependsOn(svc)
        .filter((dep) => !(dep in services))
        .map((dep) => `${name} -> ${dep}`),
    );
    expect(missing).toEqual([]);
  });

  it('publishes no host port twice', () => {
    const ports = Object.values(services).flatMap(publishedPorts);
    expect(ports.every((p) => Number.isInteger(p) && p > 0)).toBe(true);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('uses the same search attributes as scripts/temporal-server.sh', () => {
    const script = readFileSync(join(ROOT, 'scripts', 'temporal-server.sh'), 'utf8');
    for (const name of CUTOVER_SEARCH_ATTRIBUTES) expect(script).toContain(`${name}=Keyword`);
  });
});

/** A tool from .cutover/tools.env (or the environment), else its Debian path; a clear error naming the provision flag. */
function provisioned(envVar: string, debianPath: string, flag: string): string {
  const candidates = [process.env[envVar], readToolsEnv()[envVar], debianPath].filter((p): p is string => Boolean(p));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error(
    `${debianPath} is not installed: run \`bash scripts/provision.sh --with ${flag}\` (or set ${envVar})`,
  );
}

function readToolsEnv(): Record<string, string> {
  try {
    return parseEnvFile(readFileSync(toolsEnvFile(), 'utf8'));
  } catch {
    return {};
  }
}

const HOOK_TOKEN = 'compose-test-token-0123456789';

function dockerCompose(args: string[], env: Record<string, string | undefined> = { CUTOVER_HOOK_TOKEN: HOOK_TOKEN }) {
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...process.env, ...env })) {
    if (value !== undefined && key !== 'COMPOSE_FILE' && key !== 'COMPOSE_PROJECT_NAME') childEnv[key] = value;
  }
  return spawnSync(
    provisioned('DOCKER_COMPOSE_BIN', '/usr/bin/docker-compose', 'compose'),
    ['-f', join(ROOT, 'docker-compose.yml'), '--project-directory', ROOT, ...args],
    { cwd: ROOT, env: childEnv, encoding: 'utf8' },
  );
}

describe('docker-compose config (Debian docker-compose)', () => {
  it('accepts the file', () => {
    const run = dockerCompose(['config', '-q']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('refuses to start without the hook token, naming it', () => {
    const run = dockerCompose(['config', '-q'], { CUTOVER_HOOK_TOKEN: undefined });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('set CUTOVER_HOOK_TOKEN');
  });

  it('resolves the codec key secret into the worker, the hook server and the codec server', () => {
    const run = dockerCompose(['config']);
    expect(run.status).toBe(0);
    const resolved = parse(run.stdout) as Compose;
    expect(resolved.secrets?.['codec-keys']?.file).toBe(join(ROOT, 'deploy', 'codec-keys.yaml'));
    for (const name of ['worker', 'hooks', 'codec-server']) {
      const svc = resolved.services[name]!;
      expect((svc.secrets ?? []).map((s) => (typeof s === 'string' ? s : s.source))).toContain('codec-keys');
      expect(env(svc)['CUTOVER_CODEC_KEYS_FILE']).toBe('/run/secrets/codec-keys');
    }
    expect(env(resolved.services['hooks']!)['CUTOVER_HOOK_TOKEN']).toBe(HOOK_TOKEN);
  });
});

describe('docker-compose.yml: codec server, hook server, Prometheus', () => {
  it('points the Web UI at the codec server, which accepts the UI origin only', () => {
    const ui = env(service('temporal-ui'));
    const codec = service('codec-server');
    const command = words(codec.command);
    expect(command).toMatch(/^node bin\/cutover\.js codec-server --port 8888 /);
    const port = Number(/--port (\d+)/.exec(command)?.[1]);
    expect(ui['TEMPORAL_CODEC_ENDPOINT']).toBe(`http://localhost:${port}`);
    expect(publishedPorts(codec)).toEqual([port]);
    // The browser that shows the UI (published on 8233) is the codec server's only allowed origin.
    expect(/--cors-origin (\S+)/.exec(command)?.[1]).toBe(
      `http://localhost:${publishedPorts(service('temporal-ui'))[0]}`,
    );
    expect(ui['TEMPORAL_CORS_ORIGINS']).toBe('http://localhost:8233');
  });

  it('runs `cutover hooks serve` on the example configuration, against temporal', () => {
    const hooks = service('hooks');
    expect(typeof hooks.build === 'string' ? hooks.build : hooks.build?.context).toBe('.');
    expect(words(hooks.command)).toBe(
      'node bin/cutover.js hooks serve --config /etc/cutover/hooks.yaml --host 0.0.0.0 --port 8480',
    );
    expect(env(hooks)['TEMPORAL_ADDRESS']).toBe('temporal:7233');
    expect(hooks.volumes).toContain('./examples/hooks.yaml:/etc/cutover/hooks.yaml:ro');
    expect(publishedPorts(hooks)).toEqual([8480]);
    // The mounted configuration is valid and names the roots the service's volumes provide.
    const config = loadHookConfig(join(ROOT, 'examples', 'hooks.yaml'));
    const targets = (hooks.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[1] : v.target));
    for (const root of [...config.roots.target, ...config.roots.result, ...config.roots.config, config.buildsRoot]) {
      expect(targets).toContain(root);
    }
  });

  it('has Prometheus scrape the worker and the hook server on the ports they serve /metrics on', () => {
    const prometheus = service('prometheus');
    expect(prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(prometheus.volumes).toEqual(
      expect.arrayContaining([
        './deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
        './deploy/cutover-alerts.yml:/etc/prometheus/cutover-alerts.yml:ro',
      ]),
    );
    const scrape = parse(readFileSync(join(ROOT, 'deploy', 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = Object.fromEntries(
      scrape.scrape_configs.map((job) => [job.job_name, job.static_configs.flatMap((c) => c.targets)]),
    );
    const worker = env(service('worker'));
    expect(targets['cutover-worker']).toEqual([`worker:${worker['CUTOVER_METRICS_PORT']}`]);
    expect(targets['cutover-worker-sdk']).toEqual([`worker:${worker['CUTOVER_SDK_METRICS_ADDRESS']!.split(':')[1]}`]);
    expect(targets['cutover-hooks']).toEqual([`hooks:${/--port (\d+)/.exec(words(service('hooks').command))?.[1]}`]);
    expect(scrape.scrape_configs.every((job) => (job.metrics_path ?? '/metrics') === '/metrics')).toBe(true);
    expect(scrape.rule_files).toEqual(['/etc/prometheus/cutover-alerts.yml']);
  });

  it('gives Prometheus a configuration promtool accepts, and alerting rules that pass their unit tests', () => {
    const promtool = provisioned('PROMTOOL_BIN', '/usr/bin/promtool', 'prometheus');
    // The configuration names the rules by their path in the container: check a copy that names the repo's file.
    const dir = mkdtempSync(join(tmpdir(), 'cutover-promtool-'));
    try {
      const config = readFileSync(join(ROOT, 'deploy', 'prometheus.yml'), 'utf8').replace(
        '/etc/prometheus/cutover-alerts.yml',
        join(ROOT, 'deploy', 'cutover-alerts.yml'),
      );
      writeFileSync(join(dir, 'prometheus.yml'), config);
      const checked = execFileSync(promtool, ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
      expect(checked).toMatch(/SUCCESS: \d+ rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const tested = spawnSync(promtool, ['test', 'rules', 'cutover-alerts.test.yml'], {
      cwd: join(ROOT, 'deploy'),
      encoding: 'utf8',
    });
    expect(`${tested.stdout}${tested.stderr}`).toContain('SUCCESS');
    expect(tested.status).toBe(0);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  it('builds on node:20-slim with npm ci and the TypeScript build', () => {
    expect(
      instructions.filter((line) => line.startsWith('FROM ')).every((line) => /^FROM node:20-slim\b/.test(line)),
    ).toBe(true);
    const ci = instructions.findIndex((line) => /^RUN npm ci\b/.test(line));
    const build = instructions.findIndex((line) => /^RUN .*npm run build\b/.test(line));
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(build).toBeGreaterThan(ci);
  });

  it('ships the compiled code and the cutover launcher', () => {
    expect(dockerfile).toMatch(/COPY .*\/app\/dist/);
    expect(dockerfile).toMatch(/COPY .*\/app\/bin/);
    expect(dockerfile).toMatch(/CMD \["node", "bin\/cutover.js", "worker"\]/);
  });
});
