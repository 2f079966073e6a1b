/**
 * The zip-slip guard of a Container Build's bundle (activities/outsystems/bundle.ts): an entry named to land outside
 * the bundle's directory (a ".." segment, an absolute or drive-letter path, backslashes, a NUL) or a symbolic link is
 * refused with a permanent BundleInvalid failure that names it, and nothing is written outside the directory.
 *
 * Zip tools refuse to write such names, so each bundle is written with a harmless placeholder of the same length and
 * the name patched in the bytes afterwards (in the local header and the central directory).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import * as yazl from 'yazl';
import { refusedEntryName, unpackBundle } from '../../../activities/outsystems/bundle';
import { ErrorType } from '../../../activities/errors';

const MAX_BYTES = 1024 * 1024;

interface Entry {
  name: string;
  content: string;
  /** Unix mode (type and permissions); default a regular file, 0644. */
  mode?: number;
}

/** Writes a zip of `entries`; each `patch` replaces a placeholder name by the real (hostile) one, same length. */
async function writeZip(file: string, entries: Entry[], patch: Record<string, string> = {}): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(Buffer.from(e.content), e.name, { mode: e.mode ?? 0o100644 });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  for (const [placeholder, name] of Object.entries(patch)) {
    const from = Buffer.from(placeholder);
    const to = Buffer.from(name);
    if (from.length !== to.length) throw new Error(`"${placeholder}" and "${name}" differ in length`);
    let found = 0;
    for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1)) {
      to.copy(bytes, at);
      found++;
    }
    if (found !== 2) throw new Error(`"${placeholder}" appears ${found} times in the zip (expected 2)`);
  }
  fs.writeFileSync(file, bytes);
}

/** Every file and directory under `dir`, relative to it. */
function tree(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('unpacking a bundle: the zip-slip guard', () => {
  let base: string;
  /** Where the bundle is unpacked; the tests check nothing lands in `base` outside it. */
  let dest: string;
  let zipFile: string;

  beforeEach(() => {
    base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-bundle-')));
    dest = path.join(base, 'app', 'builds', 'op');
    fs.mkdirSync(dest, { recursive: true });
    zipFile = path.join(base, 'bundle.zip');
  });

  afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

  /** The failure unpacking gives (it must fail), with what is left in and around the bundle directory. */
  async function refusal(): Promise<{ type?: string; nonRetryable?: boolean; message: string; around: string[] }> {
    const err: unknown = await unpackBundle(zipFile, dest, MAX_BYTES).then(
      () => new Error('the bundle was unpacked'),
      (e: unknown) => e,
    );
    if (!(err instanceof ApplicationFailure)) throw err;
    // Anything but the zip, the bundle directory's ancestors and what is inside it (the caller removes that).
    const inside = path.join('app', 'builds', 'op');
    const ancestors = ['app', path.join('app', 'builds'), inside];
    const around = tree(base).filter(
      (p) => p !== 'bundle.zip' && !ancestors.includes(p) && !p.startsWith(`${inside}${path.sep}`),
    );
    return { type: err.type ?? undefined, nonRetryable: err.nonRetryable ?? undefined, message: err.message, around };
  }

  test('a plain bundle unpacks: directories, files, the executable bit', async () => {
    await writeZip(zipFile, [
      { name: 'server.js', content: 'ok' },
      { name: 'bin/start', content: '#!/bin/sh', mode: 0o100755 },
    ]);

    await expect(unpackBundle(zipFile, dest, MAX_BYTES)).resolves.toBe(2);

    expect(tree(dest)).toEqual(['bin', path.join('bin', 'start'), 'server.js']);
    expect(fs.statSync(path.join(dest, 'bin', 'start')).mode & 0o111).not.toBe(0);
  });

  test.each([
    {
      what: 'a leading ".." segment',
      placeholder: 'xx/evil.txt',
      name: '../evil.txt',
      reason: /invalid relative path/,
    },
    {
      what: 'a ".." segment after a directory',
      placeholder: 'a/xx/xx/evil.txt',
      name: 'a/../../evil.txt',
      reason: /invalid relative path/,
    },
    { what: 'a drive-letter path', placeholder: 'Cx/evil.txt', name: 'C:/evil.txt', reason: /absolute path/ },
    { what: 'backslashes', placeholder: 'xx_evil.txt', name: '..\\evil.txt', reason: /invalid characters/ },
    { what: 'a NUL character', placeholder: 'evilZ.txt', name: 'evil\0.txt', reason: /contains a NUL character/ },
  ])('an entry with $what is refused, naming it; nothing is written outside', async ({ placeholder, name, reason }) => {
    const entries = [
      { name: 'ok.txt', content: 'fine' },
      { name: placeholder, content: 'evil' },
    ];
    await writeZip(zipFile, entries, { [placeholder]: name });

    const failure = await refusal();

    expect(failure).toMatchObject({ type: ErrorType.BundleInvalid, nonRetryable: true, around: [] });
    expect(failure.message).toMatch(reason);
    // The entry's name, as JSON shows it when it holds a NUL.
    expect(failure.message).toContain(name.includes('\0') ? JSON.stringify(name).slice(1, -1) : name);
    expect(fs.existsSync(path.join(base, 'app', 'builds', 'evil.txt'))).toBe(false);
    expect(fs.existsSync(path.join(base, 'app', 'evil.txt'))).toBe(false);
  });

  test('an absolute path is refused, and nothing is written at that path', async () => {
    const target = path.join(base, 'outside', 'evil.txt');
    fs.mkdirSync(path.dirname(target));
    await writeZip(zipFile, [{ name: `x${target.slice(1)}`, content: 'evil' }], { [`x${target.slice(1)}`]: target });

    const failure = await refusal();

    expect(failure).toMatchObject({ type: ErrorType.BundleInvalid, nonRetryable: true });
    expect(failure.message).toMatch(/absolute path/);
    expect(failure.message).toContain(target);
    expect(fs.existsSync(target)).toBe(false);
    expect(tree(dest)).toEqual([]);
  });

  test('a symbolic link entry is refused (it could point anywhere), and no link is made', async () => {
    await writeZip(zipFile, [
      { name: 'ok.txt', content: 'fine' },
      { name: 'link', content: '../../../outside', mode: 0o120777 },
    ]);

    const failure = await refusal();

    expect(failure).toMatchObject({ type: ErrorType.BundleInvalid, nonRetryable: true, around: [] });
    expect(failure.message).toBe('bundle entry "link" is a symbolic link (refused)');
    expect(fs.existsSync(path.join(dest, 'link'))).toBe(false);
  });

  test('a file that is not a zip is refused as such', async () => {
    fs.writeFileSync(zipFile, 'not a zip');

    const failure = await refusal();

    expect(failure).toMatchObject({ type: ErrorType.BundleInvalid, nonRetryable: true });
    expect(failure.message).toMatch(/^bundle\.zip is not a readable zip file/);
  });
});

describe('refusedEntryName', () => {
  test.each([
    ['', 'has an empty name'],
    ['a\0b', 'contains a NUL character'],
    ['dir\\file', 'contains a backslash (a Windows path separator)'],
    ['..\\..\\evil', 'contains a backslash (a Windows path separator)'],
    ['/etc/passwd', 'is an absolute path'],
    ['c:/windows', 'is an absolute path'],
    ['Z:evil', 'is an absolute path'],
    ['..', 'contains a ".." segment'],
    ['../evil', 'contains a ".." segment'],
    ['a/b/../../../evil', 'contains a ".." segment'],
  ])('%j is refused: %s', (name, reason) => {
    expect(refusedEntryName(name)).toBe(reason);
  });

  test.each(['server.js', 'static/app.css', 'dir/', '..hidden', 'a..b/c', 'a/.../b', './x'])(
    '%j is accepted',
    (name) => {
      expect(refusedEntryName(name)).toBeUndefined();
    },
  );
});
