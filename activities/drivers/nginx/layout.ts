/**
 * Cutover's layout files in confDir, the ones every change needs besides the modules' and backends' own: the
 * x-cutover-backend variable, the closing location, the keep-alive drain hook (render.ts renders them).
 */
import * as fs from 'node:fs/promises';
import type { FileChange } from './files';
import { applyChecked } from './files';
import type { RenderContext } from './render';
import { CLOSE_LOCATION_FILE, DRAIN_FILE, VARS_FILE, renderCloseLocation, renderDrain, renderVars } from './render';

/** The files every change needs (the keep-alive drain hook, the x-cutover-backend variable, the metrics log format). */
export function layoutFiles(ctx: RenderContext): FileChange[] {
  return [
    { name: VARS_FILE, content: renderVars() },
    { name: CLOSE_LOCATION_FILE, content: renderCloseLocation(ctx) },
    { name: DRAIN_FILE, content: renderDrain(ctx) },
  ];
}

/**
 * Writes Cutover's layout files into confDir (idempotent; no nginx -t, no reload). Run it before nginx first starts
 * with the include lines: the reload that would otherwise install them cannot drain keep-alive connections yet,
 * because the workers it replaces were started without the hook.
 */
export async function prepareConfDir(config: {
  confDir: string;
  defaultUpstream: string;
  previewHeader: string;
  metricsLog?: string;
}): Promise<void> {
  await fs.mkdir(config.confDir, { recursive: true });
  const ctx: RenderContext = {
    confDir: config.confDir,
    defaultUpstream: config.defaultUpstream,
    previewHeader: config.previewHeader,
    ...(config.metricsLog ? { metricsLog: config.metricsLog } : {}),
  };
  await applyChecked(config.confDir, layoutFiles(ctx), () => Promise.resolve());
}
