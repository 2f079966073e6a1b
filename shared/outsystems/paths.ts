/**
 * Root confinement for the paths a hook call names (TargetPath, ResultPath,
 * ConfigPath): the path must be absolute, carry no `..` segment, exist, and
 * its real path (every symlink resolved) must be one of the configured roots
 * or lie inside one. Roots are compared by their real paths too, so a root
 * that is itself a symlink works and a symlink inside a root that points
 * elsewhere is refused.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export class PathRejectedError extends Error {
  override readonly name = 'PathRejectedError';
  constructor(
    /** The hook parameter the path came from ("ResultPath"...). */
    readonly parameter: string,
    message: string,
  ) {
    super(`${parameter}: ${message}`);
  }
}

/** Whether `child` is `parent` or lies inside it (both absolute, normalised). */
export function isInside(parent: string, child: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative));
}

/** Real paths of the roots; a root that does not exist is an error (a typo in the configuration). */
export async function realRoots(roots: string[], what: string): Promise<string[]> {
  return Promise.all(
    roots.map(async (root) => {
      if (!path.isAbsolute(root)) throw new Error(`${what} root "${root}" is not an absolute path`);
      try {
        return await fs.realpath(root);
      } catch (err) {
        throw new Error(`${what} root "${root}" cannot be resolved: ${(err as Error).message}`);
      }
    }),
  );
}

/**
 * Resolves `raw` to its real path and checks that it lies in one of `roots`
 * (real paths, see realRoots). `kind` says what must be there.
 */
export async function confinePath(
  parameter: string,
  raw: string,
  roots: string[],
  kind: 'directory' | 'file' = 'directory',
): Promise<string> {
  if (raw.includes('\0')) throw new PathRejectedError(parameter, 'contains a NUL character');
  if (!path.isAbsolute(raw)) throw new PathRejectedError(parameter, `"${raw}" is not an absolute path`);
  if (raw.split(/[\\/]/).includes('..')) {
    throw new PathRejectedError(parameter, `"${raw}" contains a ".." segment`);
  }
  if (roots.length === 0) throw new PathRejectedError(parameter, 'no root is configured for it');
  let real: string;
  try {
    real = await fs.realpath(raw);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PathRejectedError(
      parameter,
      `"${raw}" ${code === 'ENOENT' ? 'does not exist' : `cannot be resolved (${code})`}`,
    );
  }
  if (!roots.some((root) => isInside(root, real))) {
    const shown = real === path.resolve(raw) ? `"${raw}"` : `"${raw}" (which resolves to "${real}")`;
    throw new PathRejectedError(parameter, `${shown} is outside the allowed roots (${roots.join(', ')})`);
  }
  const stat = await fs.stat(real);
  if (kind === 'directory' && !stat.isDirectory())
    throw new PathRejectedError(parameter, `"${raw}" is not a directory`);
  if (kind === 'file' && !stat.isFile()) throw new PathRejectedError(parameter, `"${raw}" is not a regular file`);
  return real;
}

/** A file directly inside an already-confined directory, named by the hook protocol (no separators allowed). */
export function fileIn(dir: string, name: string): string {
  if (name === '' || name === '.' || name === '..' || /[\\/\0]/.test(name)) {
    throw new Error(`"${name}" is not a plain file name`);
  }
  return path.join(dir, name);
}
