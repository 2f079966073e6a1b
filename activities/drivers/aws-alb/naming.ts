/**
 * Pure rules of the ALB layout: target group names, which listener rule belongs to which module, rule priorities,
 * target addresses, and intermediate weights of a stepped switch. No I/O, no SDK.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { CutoverError, ErrorType } from '../../errors';
import type { AlbForward, AlbRule, AlbTarget } from './api';

const TG_NAME_MAX = 32;
const TG_NAME_RE = /^(?!.*--)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/**
 * The target group of a backend: `<prefix><backend>` when that is a valid name (at most 32 characters, no "--");
 * otherwise shortened, with a hash of the backend name so that two long names never collide.
 */
export function targetGroupName(prefix: string, backend: string): string {
  const plain = `${prefix}${backend}`;
  if (plain.length <= TG_NAME_MAX && TG_NAME_RE.test(plain)) return plain;
  const hash = shortHash(backend, 8);
  const room = TG_NAME_MAX - prefix.length - hash.length - 1;
  const stem = backend.replace(/-+/g, '-').slice(0, room).replace(/-+$/, '');
  return `${prefix}${stem}-${hash}`.replace(/^-+/, '');
}

/** The name part of a target group ARN (…:targetgroup/<name>/<id>). */
export function targetGroupNameFromArn(arn: string): string {
  return /:targetgroup\/([^/]+)\//.exec(arn)?.[1] ?? arn;
}

/** The path patterns of a module's rule, from templates such as "/{module}*". */
export function renderPathPatterns(templates: string[], module: string): string[] {
  return templates.map((t) => t.replaceAll('{module}', module));
}

/** Layouts recognised as a module's rule, besides the configured one (so hand-made OutSystems rules are adopted). */
function knownLayouts(module: string): string[][] {
  return [[`/${module}*`], [`/${module}`, `/${module}/*`], [`/${module}*`, `/${module}/*`]];
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((v) => b.includes(v));
}

function matchesModulePaths(rule: AlbRule, module: string, templates: string[]): boolean {
  const paths = rule.conditions.pathPatterns;
  if (paths.length === 0) return false;
  return [renderPathPatterns(templates, module), ...knownLayouts(module)].some((layout) => sameSet(paths, layout));
}

/** The module's live rule: only its path patterns, no header (the default rule never matches). */
export function isModuleRule(rule: AlbRule, module: string, templates: string[]): boolean {
  return (
    rule.priority !== 'default' &&
    !rule.conditions.other &&
    rule.conditions.httpHeader === undefined &&
    matchesModulePaths(rule, module, templates)
  );
}

/** The module's preview rule: its path patterns plus the preview header (any value). */
export function isPreviewRule(rule: AlbRule, module: string, templates: string[], header: string): boolean {
  const h = rule.conditions.httpHeader;
  return (
    rule.priority !== 'default' &&
    !rule.conditions.other &&
    h !== undefined &&
    h.name.toLowerCase() === header.toLowerCase() &&
    matchesModulePaths(rule, module, templates)
  );
}

export interface PriorityRange {
  first: number;
  last: number;
}

/** FNV-1a: a stable, well-spread number for a module name. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * A free priority for a module's rule, stable across runs: preview rules take the lower half of the range (so they
 * are evaluated before module rules), module rules the upper half; within its half a module starts at a slot derived
 * from its name and takes the next free one. `below` / `above` keep a preview rule in front of the module's rule.
 */
export function choosePriority(
  role: 'module' | 'preview',
  module: string,
  used: ReadonlySet<number>,
  range: PriorityRange,
  bound: { below?: number; above?: number } = {},
): number | undefined {
  const half = Math.floor((range.last - range.first + 1) / 2);
  const start = role === 'preview' ? range.first : range.first + half;
  const size = role === 'preview' ? half : range.last - start + 1;
  const ok = (p: number) =>
    !used.has(p) && (bound.below === undefined || p < bound.below) && (bound.above === undefined || p > bound.above);
  const offset = fnv1a(module) % size;
  for (let i = 0; i < size; i++) {
    const p = start + ((offset + i) % size);
    if (ok(p)) return p;
  }
  // The half is full, or the bound rules it out (a hand-made rule at an odd priority): any free priority that fits.
  for (let p = range.first; p <= range.last; p++) if (ok(p)) return p;
  for (let p = 1; p <= 50_000 && (bound.below !== undefined || bound.above !== undefined); p++) if (ok(p)) return p;
  return undefined;
}

/** An address such as "http://10.0.1.5:8080" as an IP target. Target type `ip`: the host must be an IP address. */
export function toTarget(address: string): AlbTarget {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new CutoverError(ErrorType.RouterRequestRejected, `target "${address}" is not a URL (http://<ip>:<port>)`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!isIP(host)) {
    throw new CutoverError(
      ErrorType.RouterRequestRejected,
      `target "${address}": the ALB driver registers targets by IP address (target type ip), not by name`,
    );
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search) {
    throw new CutoverError(
      ErrorType.RouterRequestRejected,
      `target "${address}" must be scheme://ip:port, without path`,
    );
  }
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { id: host, port };
}

export function targetKey(t: AlbTarget): string {
  return `${t.id}:${t.port}`;
}

/** The address of a target, in the form replicas report theirs. */
export function fromTarget(t: AlbTarget, protocol = 'HTTP'): string {
  const host = isIP(t.id) === 6 ? `[${t.id}]` : t.id;
  return `${protocol.toLowerCase() === 'https' ? 'https' : 'http'}://${host}:${t.port}`;
}

/** Weights as percentages of their sum (all zero stays all zero). */
function shares(forward: AlbForward[]): Map<string, number> {
  const total = forward.reduce((sum, f) => sum + f.weight, 0);
  const out = new Map<string, number>();
  for (const f of forward) out.set(f.targetGroupArn, total > 0 ? (f.weight * 100) / total : 0);
  return out;
}

/**
 * The intermediate weights of a stepped switch to a single target group: at step s the new group gets s percent
 * and the others share the rest as they do now. Steps at or below the share the new group already has are skipped,
 * so a retried call (or a rollback half-way) goes on from where the rule is. Switches to several weighted groups
 * are not stepped.
 */
export function shiftSteps(current: AlbForward[], desired: AlbForward[], steps: number[]): AlbForward[][] {
  const positive = desired.filter((f) => f.weight > 0);
  if (positive.length !== 1 || !positive[0]) return [];
  const target = positive[0].targetGroupArn;
  const cur = shares(current);
  const others = [...cur].filter(([arn, share]) => arn !== target && share > 0);
  const othersTotal = others.reduce((sum, [, share]) => sum + share, 0);
  if (othersTotal === 0) return [];
  const order = [...new Set([...current.map((f) => f.targetGroupArn), target])];
  const out: AlbForward[][] = [];
  for (const step of steps) {
    if (step <= (cur.get(target) ?? 0) || step >= 100) continue;
    out.push(
      order.map((arn) => ({
        targetGroupArn: arn,
        weight: arn === target ? step : Math.round(((cur.get(arn) ?? 0) * (100 - step)) / othersTotal),
      })),
    );
  }
  return out;
}

/** Same target groups with the same weights (order does not matter). */
export function sameForward(a: AlbForward[] | undefined, b: AlbForward[]): boolean {
  if (!a) return false;
  const key = (f: AlbForward[]) =>
    f
      .map((x) => `${x.targetGroupArn}=${x.weight}`)
      .sort()
      .join(',');
  return key(a) === key(b);
}
