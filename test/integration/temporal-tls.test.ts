/**
 * TLS to Temporal, for real: the jest dev server behind nginx as a TLS-terminating gRPC proxy that requires a client
 * certificate (mTLS), with a CA, a server and client certificates made by openssl in this test. The worker (the
 * built dist/worker/main.js), the CLI (bin/cutover.js) and the hook server (`cutover hooks serve`) reach Temporal
 * only through the proxy, configured only by TEMPORAL_* environment variables; a blue-green deployment and a hook
 * operation run to completion through it. Without a client certificate, with a certificate from another CA, with
 * the wrong CA trusted, or without TLS at all, the CLI is refused and exits 3 ("Temporal unreachable").
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { stringify } from 'yaml';
import { projectRoot } from '../../examples/local-stack';
import {
  HOOK_TOKEN,
  lifeTimeGet,
  lifeTimeParams,
  localBlueGreenProfile,
  makeHookDirs,
  newLifeTimeIds,
} from '../support/hooks';
import type { HookDirs } from '../support/hooks';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { devServerAddress } from '../support/temporal';
import { makeTestPki, startGrpcTlsProxy } from '../support/tls';
import type { GrpcTlsProxy, TestPki } from '../support/tls';

jest.setTimeout(180_000);

const CLI = path.join(projectRoot(), 'bin', 'cutover.js');
/** The key the proxy's API-key listener accepts (as a Temporal Cloud namespace would). */
const API_KEY = `test-api-key-${process.pid}-0123456789abcdef`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI with exactly this Temporal configuration (no TEMPORAL_* variable leaks in from jest). */
function cli(args: string[], temporalEnv: Record<string, string>): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('TEMPORAL_') && value !== undefined) env[key] = value;
  }
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...env, ...temporalEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('Temporal behind a TLS-terminating gRPC proxy with mTLS required', () => {
  let dir: string;
  let pki: TestPki;
  let proxy: GrpcTlsProxy;
  let f: Fixture;
  let worker: ChildProcess;
  /** The configuration an operator writes: address of the proxy, the CA, the client certificate and key. */
  let tlsEnv: Record<string, string>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-tls-'));
    pki = makeTestPki(path.join(dir, 'pki'));
    proxy = await startGrpcTlsProxy({
      dir: path.join(dir, 'nginx'),
      upstream: devServerAddress(),
      pki,
      apiKey: API_KEY,
    });
    f = await createFixture('tls', ['Catalog']);
    tlsEnv = {
      TEMPORAL_ADDRESS: proxy.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: f.taskQueue,
      TEMPORAL_TLS_CA: pki.ca.crt,
      TEMPORAL_TLS_CERT: pki.client.crt,
      TEMPORAL_TLS_KEY: pki.client.key,
      // The certificate names 127.0.0.1 and localhost; the override is what an operator sets for a proxy whose
      // certificate carries a DNS name only.
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    };
    worker = await f.startWorkerProcess({ env: tlsEnv });
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await f?.close();
    await proxy?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** gRPC methods nginx passed on, from its access log (`POST /temporal.api....Service/Method HTTP/2.0" 200`). */
  function proxiedMethods(): string[] {
    const log = fs.readFileSync(path.join(proxy.dir, 'access.log'), 'utf8');
    return [...log.matchAll(/"POST \/temporal\.api\.[a-z.0-9]+\.(\w+)\/(\w+) HTTP\/2\.0" (\d+)/g)].map(
      (m) => `${m[1]}/${m[2]} ${m[3]}`,
    );
  }

  test('the CLI deploys, watches, lists and reads status through the proxy; the worker runs it through the proxy', async () => {
    const specFile = path.join(dir, 'spec.json');
    // A generous health deadline: a budget on a loaded CI machine, not an assertion about speed.
    fs.writeFileSync(specFile, JSON.stringify(f.spec('2.0.0', { health: { deadline: '60s' } })));
    const id = `deploy-tls-${f.application}`;

    const deploy = await cli(['deploy', specFile, '--id', id, '--watch'], tlsEnv);
    expect(deploy.stderr).not.toMatch(/cannot reach Temporal/);
    // (code and output together: a failure shows why the deployment did not succeed)
    expect({ code: deploy.code, stdout: deploy.stdout, stderr: deploy.stderr }).toMatchObject({ code: 0 });
    expect(deploy.stdout).toContain(`started ${id}`);

    const status = await cli(['status', id, '--json'], tlsEnv);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ outcome: 'succeeded', version: '2.0.0' });

    const list = await cli(['list', '--application', f.application, '--json'], tlsEnv);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { deploymentId: string }[]).map((r) => r.deploymentId)).toContain(id);

    // The new version serves, and the replicas were started by the worker that reached Temporal through nginx.
    expect(await f.versionOf('Catalog')).toBe('2.0.0');
    expect((await f.liveReplicas()).map((r) => r.version)).toEqual(['2.0.0', '2.0.0']);
    const methods = proxiedMethods();
    expect(methods).toEqual(
      expect.arrayContaining([
        'WorkflowService/PollWorkflowTaskQueue 200',
        'WorkflowService/RespondActivityTaskCompleted 200',
        'WorkflowService/StartWorkflowExecution 200',
        'WorkflowService/QueryWorkflow 200',
      ]),
    );
  });

  test('the hook server connects by configuration alone and starts a hook operation the worker completes', async () => {
    const dirs: HookDirs = makeHookDirs('tls');
    const ids = newLifeTimeIds();
    const configFile = path.join(dirs.base, 'hooks.yaml');
    fs.writeFileSync(
      configFile,
      stringify({
        auth: { tokenEnv: 'CUTOVER_HOOK_TOKEN' },
        roots: { target: [path.join(dirs.base, 'deploy')], result: [path.join(dirs.base, 'deploy')] },
        buildsRoot: dirs.builds,
        profiles: { local: localBlueGreenProfile(f) },
        applications: [{ key: ids.key, application: `${f.application}-hooks`, profile: 'local' }],
      }),
    );
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (!key.startsWith('TEMPORAL_') && value !== undefined) env[key] = value;
    }
    const server = spawn(process.execPath, [CLI, 'hooks', 'serve', '--config', configFile, '--port', '0'], {
      env: { ...env, ...tlsEnv, CUTOVER_HOOK_TOKEN: HOOK_TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const lines = readline.createInterface({ input: server.stderr });
      let url: string | undefined;
      for await (const line of lines) {
        url = /serving on (http:\/\/\S+);/.exec(line)?.[1];
        if (url) break;
      }
      expect(url).toBeDefined();

      // Container Remove of an application Cutover never deployed: Temporal starts the operation (202), the worker
      // (also behind the proxy) runs it and writes the result file LifeTime polls for.
      const answer = await lifeTimeGet(
        { url: url! },
        'remove',
        lifeTimeParams(dirs, { applicationKey: ids.key, operationId: ids.remove, modules: ['Catalog'] }),
      );
      expect(answer.status).toBe(202);
      expect(answer.body.started).toBe(true);
      const resultFile = answer.body.resultFile!;
      const deadline = Date.now() + 60_000;
      while (!fs.existsSync(resultFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(fs.existsSync(resultFile)).toBe(true);
      expect(await f.client.hookResult(answer.body.workflowId)).toMatchObject({
        content: fs.readFileSync(resultFile, 'utf8'),
      });
    } finally {
      const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
      server.kill('SIGTERM');
      expect(await exited).toBe(0);
      fs.rmSync(dirs.base, { recursive: true, force: true });
    }
  });

  /** How each bad configuration changes the good one, and what nginx logs when it is the side that refuses. */
  const refused: [string, (env: Record<string, string>) => Record<string, string>, RegExp | undefined][] = [
    [
      'without a client certificate',
      ({ TEMPORAL_TLS_CERT: _c, TEMPORAL_TLS_KEY: _k, ...rest }) => ({ ...rest }),
      /client sent no required SSL certificate/,
    ],
    [
      'with a client certificate from another CA',
      (env) => ({ ...env, TEMPORAL_TLS_CERT: pki.strangerClient.crt, TEMPORAL_TLS_KEY: pki.strangerClient.key }),
      /client SSL certificate verify error/,
    ],
    // The client refuses the server's certificate: the handshake fails before any request reaches nginx.
    ['trusting the wrong CA', (env) => ({ ...env, TEMPORAL_TLS_CA: pki.otherCa.crt }), undefined],
    [
      'without TLS',
      ({
        TEMPORAL_TLS_CA: _a,
        TEMPORAL_TLS_CERT: _c,
        TEMPORAL_TLS_KEY: _k,
        TEMPORAL_TLS_SERVER_NAME: _n,
        ...rest
      }) => ({
        ...rest,
      }),
      undefined,
    ],
  ];

  test.each(refused)('the CLI is refused %s: exit 3 naming the address', async (_name, change, nginxSays) => {
    const logged = proxy.errorLog().length;
    const run = await cli(['list', '--json'], change(tlsEnv));
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`error: cannot reach Temporal at ${proxy.address}:`);
    if (nginxSays) expect(proxy.errorLog().slice(logged)).toMatch(nginxSays);
  });

  test('with an API key (from TEMPORAL_API_KEY_FILE) the CLI gets through; a wrong key is refused and never printed', async () => {
    const keyFile = path.join(dir, 'temporal-api-key');
    fs.writeFileSync(keyFile, `${API_KEY}\n`, { mode: 0o600 });
    const apiKeyEnv = {
      TEMPORAL_ADDRESS: proxy.apiKeyAddress!,
      TEMPORAL_TASK_QUEUE: f.taskQueue,
      TEMPORAL_TLS_CA: pki.ca.crt,
      // Without it, dialing an IP address sends the IP as TLS SNI, and Node warns (DEP0123) on every connection.
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
      TEMPORAL_API_KEY_FILE: keyFile,
    };
    const ok = await cli(['list', '--application', f.application, '--json'], apiKeyEnv);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(Array.isArray(JSON.parse(ok.stdout))).toBe(true);
    expect(ok.stdout).not.toContain(API_KEY);

    const wrongKey = 'wrong-api-key-fedcba9876543210';
    const { TEMPORAL_API_KEY_FILE: _file, ...withoutFile } = apiKeyEnv;
    const wrong = await cli(['list', '--json'], { ...withoutFile, TEMPORAL_API_KEY: wrongKey });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain(`error: cannot reach Temporal at ${proxy.apiKeyAddress}:`);
    expect(`${wrong.stdout}${wrong.stderr}`).not.toContain(wrongKey);

    const none = await cli(['list', '--json'], withoutFile);
    expect(none.code).toBe(3);
  });
});
