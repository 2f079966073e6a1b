/**
 * The argument checks of the `cutover` commands: a bad value exits 2 naming the argument or option, before anything
 * is contacted. Each is a commander argument parser.
 */
import { InvalidArgumentError } from 'commander';
import { CliError, EXIT } from './context';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function text(what: string, max: number, { empty = false } = {}) {
  return (value: string): string => {
    if (!empty && value.trim() === '') throw new InvalidArgumentError(`${what} may not be empty.`);
    if (value.length > max) throw new InvalidArgumentError(`${what} must be at most ${max} characters.`);
    if (CONTROL.test(value)) throw new InvalidArgumentError(`${what} must not contain control characters.`);
    return value;
  };
}

function matching(what: string, re: RegExp, expected: string) {
  return (value: string): string => {
    if (!re.test(value)) throw new InvalidArgumentError(`${what} must be ${expected}.`);
    return value;
  };
}

/** A Temporal workflow id (at most 1,000 characters, the server's limit). */
export const deploymentIdArg = text('a deployment id', 1000);
export const whoArg = text('who decides', 200);
export const reasonArg = text('the reason', 1000, { empty: true });
export const fileArg = text('a file name', 4096);
export const versionArg = matching(
  'the version',
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
  'letters, digits, ".", "_" and "-" (at most 63, as in the spec)',
);
export const labelArg = (what: string) =>
  matching(what, /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/, 'lower-case letters, digits and dashes (as in the spec)');
export const portArg = (value: string): number => {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65_535)) throw new InvalidArgumentError('the port must be a number from 0 to 65535.');
  return port;
};
export const hostArg = matching('the host', /^[A-Za-z0-9.:[\]_-]{1,253}$/, 'a host name or IP address');

/** Who decides: `--by`, else $CUTOVER_USER or $USER, checked like `--by`. */
export function requireBy(by: string | undefined): string {
  const who = by ?? process.env.CUTOVER_USER ?? process.env.USER;
  if (!who) throw new CliError('--by <who> is required (or set CUTOVER_USER)', EXIT.badInput);
  try {
    return whoArg(who);
  } catch (err) {
    throw new CliError(`--by (from $CUTOVER_USER / $USER): ${(err as Error).message}`, EXIT.badInput);
  }
}
