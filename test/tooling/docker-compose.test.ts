/**
 * docker-compose.yml and the Dockerfile, checked statically (no Docker engine runs on the build machines).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { CUTOVER_SEARCH_ATTRIBUTES } from '../support/temporal';

const ROOT = resolve(__dirname, '..', '..');

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: (string | number | { published?: string | number; target?: number })[];
}

interface Compose {
  services: Record<string, Service>;
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
  it('has the Temporal stack and the worker', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgresql', 'temporal', 'temporal-admin-tools', 'temporal-ui', 'worker']),
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
