/**
 * The bounded field types every part of the spec is made of: text, URLs, commands, environments, names.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import { z } from 'zod';
import { SPEC_LIMITS } from './limits';

const NO_NUL = (s: string) => !s.includes('\0');

/** A path, an argument, an image: bounded, without NUL (which no file system or exec call accepts). */
export const text = (max: number = SPEC_LIMITS.textChars) =>
  z.string().max(max, `must be at most ${max} characters`).refine(NO_NUL, 'must not contain a NUL character');

/** An http(s) URL (no other scheme reaches a router or a load balancer). */
export const httpUrl = z
  .string({ error: 'expected an http(s) URL such as http://127.0.0.1:9901' })
  .max(SPEC_LIMITS.urlChars, `must be at most ${SPEC_LIMITS.urlChars} characters`)
  .pipe(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://127.0.0.1:9901' }));

/** A command line: 1 to 64 arguments. */
export const command = z
  .array(text().min(1, 'an argument may not be empty'))
  .min(1, 'must name the program to run')
  .max(SPEC_LIMITS.commandArgs, `must be at most ${SPEC_LIMITS.commandArgs} arguments`);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** UTF-8 length of a string (pure: workflow code has no Buffer). */
export function utf8Bytes(value: string): number {
  let bytes = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Non-secret environment of every replica: bounded in entries and in total size; each name is checked by name. */
export const envSchema = z
  .record(
    z.string(),
    z
      .string({ error: 'env values are strings (quote numbers and booleans)' })
      .refine(NO_NUL, 'must not contain a NUL character'),
  )
  .superRefine((env, ctx) => {
    const entries = Object.entries(env);
    if (entries.length > SPEC_LIMITS.envEntries) {
      ctx.addIssue({
        code: 'custom',
        message: `must have at most ${SPEC_LIMITS.envEntries} entries (has ${entries.length})`,
      });
      return;
    }
    for (const [key] of entries) {
      if (key.length > 256 || !ENV_NAME.test(key)) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'env names are 1-256 letters, digits, "_", "-", "." (not starting with a digit)',
        });
      }
    }
    const bytes = entries.reduce((sum, [k, v]) => sum + utf8Bytes(k) + utf8Bytes(v), 0);
    if (bytes > SPEC_LIMITS.envBytes) {
      ctx.addIssue({
        code: 'custom',
        message: `must be at most ${SPEC_LIMITS.envBytes / 1024} KiB in total (names and values: ${Math.ceil(bytes / 1024)} KiB); pass large configuration as a file`,
      });
    }
  });

export const name = (what: string) =>
  z
    .string()
    .min(1)
    .max(40)
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, `${what} must be lower-case letters, digits and dashes (DNS label)`);

export const moduleName = z
  .string({ error: 'module names are text' })
  .min(1, 'module names may not be empty')
  .max(100, 'module names are at most 100 characters')
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'module names are letters, digits, "_", "-" and "." (served at /<Module>/)');
