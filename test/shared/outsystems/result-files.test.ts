/**
 * The result files LifeTime waits for (shared/outsystems/result-files.ts): their content, atomic replacement, and
 * writeResultFile, the one writer both the hook server and the writeHookResult activity use.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  errorResult,
  resultContent,
  resultFileExists,
  writeResultFile,
  writeResultFileAtomic,
} from '../../../shared/outsystems/result-files';

describe('result files', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-results-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('success is an empty file; failure is {"Error":{"Message":...}}', async () => {
    await writeResultFileAtomic(path.join(dir, 'k_op.deploydone'), resultContent());
    await writeResultFileAtomic(path.join(dir, 'k_op.configsdone'), resultContent('it "broke"'));
    expect(fs.readFileSync(path.join(dir, 'k_op.deploydone'), 'utf8')).toBe('');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'k_op.configsdone'), 'utf8'))).toEqual({
      Error: { Message: 'it "broke"' },
    });
    expect(errorResult('x')).toBe('{"Error":{"Message":"x"}}');
  });

  test('written by rename: no temp file is left, an existing file is replaced whole', async () => {
    const file = path.join(dir, 'k_op.preparedone');
    await writeResultFileAtomic(file, errorResult('first'));
    await writeResultFileAtomic(file, '');
    expect(fs.readdirSync(dir)).toEqual(['k_op.preparedone']);
    expect(fs.readFileSync(file, 'utf8')).toBe('');
  });

  test('writeResultFile writes the named file into the result directory (mode 0644) and returns its path', async () => {
    const file = await writeResultFile(dir, 'k_op.undeploydone', errorResult('gone'));

    expect(file).toBe(path.join(dir, 'k_op.undeploydone'));
    expect(fs.readFileSync(file, 'utf8')).toBe('{"Error":{"Message":"gone"}}');
    expect(fs.statSync(file).mode & 0o777).toBe(0o644 & ~process.umask());
    await expect(resultFileExists(file)).resolves.toBe(true);
    await expect(resultFileExists(path.join(dir, 'k_other.undeploydone'))).resolves.toBe(false);
  });

  test.each(['../k_op.deploydone', 'sub/k_op.deploydone', 'k\\op.deploydone', 'k\0op.deploydone', '..', ''])(
    'writeResultFile refuses %j (not a plain file name) and writes nothing',
    async (name) => {
      await expect(writeResultFile(dir, name, '')).rejects.toThrow(/is not a plain file name/);
      expect(fs.readdirSync(dir)).toEqual([]);
      expect(fs.existsSync(path.join(path.dirname(dir), 'k_op.deploydone'))).toBe(false);
    },
  );
});
