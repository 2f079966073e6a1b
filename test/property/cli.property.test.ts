/**
 * The CLI's arguments, property-based: `main` in process on fuzzed argv, with spies in place of Temporal and the
 * worker, so 10,000 cases spawn nothing. Bad input exits 2 naming what is wrong, before anything is contacted;
 * valid input contacts Temporal once (the spy refuses: exit 3). Then a handful of cases on the compiled binary,
 * against a listener standing in for Temporal that counts connections: none for bad input.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { main } from '../../client/cli';
import type { CliDeps } from '../../client/cli';
import { blueGreenSpec } from '../support/specs';
import { hostileString, RUNS } from './arbitraries';

let dir: string;
const files: Record<string, string> = {};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-cli-property-'));
  const write = (name: string, content: string) => {
    files[name] = path.join(dir, name);
    fs.writeFileSync(files[name], content);
  };
  write('good.yaml', stringify(blueGreenSpec({ application: 'cli-prop' })));
  write('bad.yaml', stringify(blueGreenSpec({ application: 'Bad_Name', replicas: 0 })));
  write('broken.yaml', 'application: [unclosed\n');
  write('huge.yaml', `modules:\n${'  - M\n'.repeat(2_000_000)}`);
  write('hooks-bad.yaml', 'auth: {}\n');
  files.dir = dir;
  files.missing = path.join(dir, 'missing.yaml');
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The CLI's world, spied: every contact is counted, Temporal refuses. */
function spyDeps() {
  const seen = { contacted: 0, out: '', err: '' };
  const deps: CliDeps = {
    connect: () => {
      seen.contacted++;
      return Promise.reject(new Error('connection refused (test spy)'));
    },
    runWorker: () => {
      seen.contacted++;
      return Promise.resolve();
    },
    out: (text) => {
      seen.out += text;
    },
    err: (text) => {
      seen.err += text;
    },
  };
  return { deps, seen };
}

const commands = fc.constantFrom(
  'validate',
  'deploy',
  'status',
  'list',
  'approve',
  'reject',
  'abort',
  'rollback',
  'promote',
  'hooks',
  'serve',
  'worker',
  'help',
  'Deploy',
  '',
);
const options = fc.constantFrom(
  '--json',
  '--watch',
  '--id',
  '--by',
  '--reason',
  '--version',
  '--application',
  '--environment',
  '--config',
  '--port',
  '--host',
  '--help',
  '-h',
  '--',
  '-x',
  '--by=',
  '--port=80',
  '--version=2.0.0',
  '--no-json',
);
const values = fc.oneof(
  fc.constantFrom(
    'deploy-test-shop',
    'alice',
    '2.0.0',
    'shop',
    '8480',
    '127.0.0.1',
    '99999',
    '-1',
    '0x50',
    '1e3',
    "x' OR CustomStatus = 'y",
    'a b',
    'ü',
    ' ',
  ),
  fc
    .constantFrom('good.yaml', 'bad.yaml', 'broken.yaml', 'huge.yaml', 'hooks-bad.yaml', 'dir', 'missing')
    .map((name) => files[name] as string),
  hostileString.filter((s) => !s.includes('\0')),
);
const argv = fc.array(
  fc.oneof({ weight: 2, arbitrary: commands }, { weight: 3, arbitrary: options }, { weight: 4, arbitrary: values }),
  {
    maxLength: 7,
  },
);
/** Starts with a command most of the time, so the commands' own checks are reached. */
const commandLine = fc.tuple(commands, argv).map(([c, rest]) => [c, ...rest]);

/**
 * A refusal says what is wrong: an option, an argument, a command, the spec's fields, or the file; a command given
 * without its subcommand (`cutover`, `cutover hooks`) shows its usage, which lists them.
 */
const NAMED =
  /^Usage: cutover|option '|argument '|command|error: \d+ problem\(s\) in the spec:\n {2}\S+: |cannot read|is not valid YAML|MiB|--by|--config|hook configuration|too many arguments|\.yaml: /;

describe('cutover CLI arguments (property-based)', () => {
  test(`${RUNS} fuzzed command lines: exit 2 naming the problem with nothing contacted, or valid and contacted once`, async () => {
    const codes = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(commandLine, argv), async (args) => {
        const { deps, seen } = spyDeps();
        const code = await main(['node', 'cutover', ...args], deps);
        codes.set(code, (codes.get(code) ?? 0) + 1);
        expect([0, 2, 3]).toContain(code);
        if (code === 2) {
          expect(seen.contacted).toBe(0);
          expect(seen.err).toMatch(/^(error|Usage: cutover)/m);
          expect(seen.err).toMatch(NAMED);
        }
        if (code === 3) {
          expect(seen.contacted).toBe(1);
          expect(seen.err).toMatch(/^error: cannot reach Temporal/);
        }
        expect(seen.contacted).toBeLessThanOrEqual(1);
      }),
      { numRuns: RUNS },
    );
    process.stdout.write(`cli exit codes: ${JSON.stringify(Object.fromEntries(codes))}\n`);
    expect(codes.get(2)).toBeGreaterThan(0);
    expect(codes.get(3)).toBeGreaterThan(0);
  }, 300_000);
});

describe('cutover binary: bad input exits 2 and never connects', () => {
  const bin = path.join(__dirname, '..', '..', 'bin', 'cutover.js');
  let listener: net.Server;
  let connections = 0;
  let address: string;

  beforeAll(async () => {
    listener = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(listener.address() as net.AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

  const cutover = (...args: string[]) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [bin, ...args],
        { env: { ...process.env, TEMPORAL_ADDRESS: address, CUTOVER_USER: 'alice' } },
        (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });

  test.each([
    [['deploy', 'huge.yaml'], /huge\.yaml is \d+\.\d MiB; a spec file may be at most 1\.0 MiB/],
    [['deploy', 'bad.yaml'], /application: .*\n {2}replicas: /],
    [
      ['deploy', 'good.yaml', '--id', ''],
      /--id <deploymentId>' argument '' is invalid\. a deployment id may not be empty/,
    ],
    [['status', 'x\u0007'], /argument 'deploymentId'.*must not contain control characters/],
    [
      ['list', '--application', "x' OR 'a'='a"],
      /--application <name>' argument .* is invalid\. the application must be/,
    ],
    [['approve', 'deploy-test-shop', '--version', '../2'], /--version <version>' argument '\.\.\/2' is invalid/],
    [
      ['hooks', 'serve', '--config', 'huge.yaml'],
      /huge\.yaml is \d+\.\d MiB; a hook configuration may be at most 1 MiB/,
    ],
    [['hooks', 'serve', '--config', 'hooks-bad.yaml', '--port', '99999'], /--port <port>' argument '99999' is invalid/],
  ])('cutover %j exits 2: %p', async (args, message) => {
    const resolved = args.map((a) => files[a] ?? a);
    const { code, stderr } = await cutover(...resolved);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(connections).toBe(0);
  });

  test('the same spec, valid, does connect (the listener is what the CLI would have reached)', async () => {
    const { code } = await cutover('deploy', files['good.yaml'] as string);
    expect(code).toBe(3);
    expect(connections).toBeGreaterThan(0);
  });
});
