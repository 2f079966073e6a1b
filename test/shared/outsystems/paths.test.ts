/** Root confinement of TargetPath / ResultPath / ConfigPath (shared/outsystems/paths.ts). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { confinePath, fileIn, PathRejectedError, realRoots } from '../../../shared/outsystems/paths';

describe('hook path confinement', () => {
  let base: string;
  let root: string;
  let outside: string;

  beforeEach(() => {
    base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-paths-')));
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    fs.mkdirSync(path.join(root, 'results'), { recursive: true });
    fs.mkdirSync(outside);
  });

  afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

  const confine = async (raw: string, kind: 'directory' | 'file' = 'directory') =>
    confinePath('ResultPath', raw, await realRoots([root], 'result'), kind);

  test('a directory inside a root (or the root itself) resolves to its real path', async () => {
    await expect(confine(path.join(root, 'results'))).resolves.toBe(path.join(root, 'results'));
    await expect(confine(root)).resolves.toBe(root);
  });

  test('".." is refused even when it would land inside the root', async () => {
    await expect(confine(`${root}/results/../results`)).rejects.toThrow(/ResultPath: .* contains a "\.\." segment/);
    await expect(confine(`${root}/../outside`)).rejects.toThrow(PathRejectedError);
  });

  test('a path outside every root is refused', async () => {
    await expect(confine(outside)).rejects.toThrow(/ResultPath: .* is outside the allowed roots/);
    await expect(confine('/etc')).rejects.toThrow(/outside the allowed roots/);
  });

  test('a root that is only a prefix of the path does not count ("/root-evil" is not in "/root")', async () => {
    fs.mkdirSync(`${root}-evil`);
    await expect(confine(`${root}-evil`)).rejects.toThrow(/outside the allowed roots/);
  });

  test('a symlink inside a root that points outside is refused', async () => {
    fs.symlinkSync(outside, path.join(root, 'escape'));
    await expect(confine(path.join(root, 'escape'))).rejects.toThrow(
      /resolves to ".*outside".* outside the allowed roots/,
    );
  });

  test('a file symlinked out of the root is refused too', async () => {
    fs.writeFileSync(path.join(outside, 'secret.zip'), 'x');
    fs.symlinkSync(path.join(outside, 'secret.zip'), path.join(root, 'app_op.zip'));
    await expect(confine(path.join(root, 'app_op.zip'), 'file')).rejects.toThrow(/outside the allowed roots/);
  });

  test('a root reached through a symlink works (roots compare by real path)', async () => {
    const link = path.join(base, 'link-to-root');
    fs.symlinkSync(root, link);
    const roots = await realRoots([link], 'result');
    await expect(confinePath('ResultPath', path.join(link, 'results'), roots)).resolves.toBe(
      path.join(root, 'results'),
    );
  });

  test('relative, missing, and non-directory paths are refused', async () => {
    await expect(confine('results')).rejects.toThrow(/not an absolute path/);
    await expect(confine(path.join(root, 'nope'))).rejects.toThrow(/does not exist/);
    fs.writeFileSync(path.join(root, 'file'), '');
    await expect(confine(path.join(root, 'file'))).rejects.toThrow(/not a directory/);
  });

  test('a missing root is a configuration error', async () => {
    await expect(realRoots([path.join(base, 'missing')], 'result')).rejects.toThrow(
      /result root .* cannot be resolved/,
    );
  });

  test('file names from the protocol may not carry separators', () => {
    expect(() => fileIn(root, '../x')).toThrow(/not a plain file name/);
    expect(fileIn(root, 'key_op.deploydone')).toBe(path.join(root, 'key_op.deploydone'));
  });
});
