/**
 * Reading a spec file for `cutover validate` and `cutover deploy`: bounded in size, one YAML document, validated
 * before anything is contacted.
 */
import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { SpecInvalidError } from '../client';
import { SPEC_LIMITS, validateSpec } from '../../workflows/spec';
import { CliError, EXIT } from './context';

/**
 * The spec in a file's text (YAML, of which JSON is a subset): refused before parsing when larger than
 * SPEC_LIMITS.fileBytes, and when it is not one YAML document. `source` names the file in messages.
 */
export function parseSpecText(text: string, source: string): unknown {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > SPEC_LIMITS.fileBytes) throw tooLarge(source, bytes);
  try {
    // Warnings (e.g. a collection used as a key) are not worth a line on stderr: the schema names what is wrong.
    return parseYaml(text, { logLevel: 'error' });
  } catch (err) {
    throw new CliError(`${source} is not valid YAML: ${(err as Error).message}`, EXIT.badInput);
  }
}

function tooLarge(source: string, bytes: number): CliError {
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return new CliError(
    `${source} is ${mib(bytes)}; a spec file may be at most ${mib(SPEC_LIMITS.fileBytes)} (a spec is a few KiB)`,
    EXIT.badInput,
  );
}

function readSpecFile(file: string): unknown {
  let text: string;
  try {
    const size = fs.statSync(file).size;
    if (size > SPEC_LIMITS.fileBytes) throw tooLarge(file, size);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.badInput);
  }
  return parseSpecText(text, file);
}

/** Reads and validates a spec file; a bad one is refused here, before anything is contacted. */
export function readValidSpec(file: string): ReturnType<typeof validateSpec> & { ok: true } {
  const result = validateSpec(readSpecFile(file));
  if (!result.ok) throw new SpecInvalidError(result.issues);
  return result;
}
