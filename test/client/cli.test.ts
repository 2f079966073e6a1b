/**
 * The `cutover` CLI as a person runs it (the compiled bin), against the real
 * Temporal dev server: bad specs are refused before anything starts, with the
 * offending field named, and exit codes scripts can rely on.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection, Client } from '@temporalio/client';
import { stringify } from 'yaml';
import { blueGreenSpec } from '../support/specs';

const bin = path.join(__dirname, '..', '..', 'bin', 'cutover.js');
let dir: string;

function cutover(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: process.env }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function writeSpec(name: string, spec: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, stringify(spec));
  return file;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-cli-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('cutover CLI', () => {
  test('validate prints the normalised spec of a good file', async () => {
    const file = writeSpec('good.yaml', blueGreenSpec({ application: 'cli-good' }));
    const { code, stdout } = await cutover('validate', file, '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      application: 'cli-good',
      strategy: { type: 'blue-green', rollbackWindow: 0 },
    });
  });

  test('deploy refuses a bad spec with exit 2, names each field, and starts nothing', async () => {
    const spec = {
      ...blueGreenSpec({ application: 'cli-bad', replicas: 0 }),
      strategy: { type: 'blue-green', rollbackWindow: 'later' },
    };
    const file = writeSpec('bad.yaml', spec);
    const { code, stderr } = await cutover('deploy', file);
    expect(code).toBe(2);
    expect(stderr).toMatch(/replicas: /);
    expect(stderr).toMatch(/strategy\.rollbackWindow: expected a duration/);

    const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
    try {
      const client = new Client({ connection });
      await expect(client.workflow.getHandle('deploy-test-cli-bad').describe()).rejects.toThrow(/not found/i);
    } finally {
      await connection.close();
    }
  });

  test('a file that is not YAML is a bad-input error naming the file', async () => {
    const file = path.join(dir, 'broken.yaml');
    fs.writeFileSync(file, 'application: [unclosed\n');
    const { code, stderr } = await cutover('validate', file);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file} is not valid YAML`);
  });

  test('status of an unknown deployment exits 3', async () => {
    const { code, stderr } = await cutover('status', 'deploy-nowhere-nothing');
    expect(code).toBe(3);
    expect(stderr).toMatch(/not found/i);
  });

  test('approve without anyone to record is refused', async () => {
    const env = { ...process.env };
    delete env.USER;
    delete env.CUTOVER_USER;
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [bin, 'approve', 'deploy-x-y'], { env }, (err, _out, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--by <who> is required/);
  });

  test('--help lists the commands with examples', async () => {
    const { code, stdout } = await cutover('--help');
    expect(code).toBe(0);
    for (const command of ['deploy', 'status', 'approve', 'reject', 'promote', 'abort', 'rollback', 'list', 'worker']) {
      expect(stdout).toContain(command);
    }
    expect(stdout).toContain('Examples:');
  });
});
