/**
 * What a spec may hold at most, and the defaults other modules share.
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */

/**
 * What a spec may hold at most. A spec is the input of its deployment's workflow and reaches its activities, its
 * status and (rolling) its continue-as-new state, all of which Temporal stores as payloads (it warns above 512 KB
 * and refuses above 2 MB): every list and text of a spec is bounded so the largest accepted spec stays well under
 * that (docs/reliability.md measures it), and whatever is larger is refused here, naming the field.
 */
export const SPEC_LIMITS = {
  /** Modules of one application (each served at /<Module>/; a name is at most 100 characters). */
  modules: 250,
  /** Replicas of one replica set. */
  replicas: 10_000,
  /** Entries of platform.env, and their total size (names and values, UTF-8). */
  envEntries: 200,
  envBytes: 32 * 1024,
  /** A path, a command argument, an image, a kubeconfig context. */
  textChars: 4096,
  /** Arguments of a command (platform.command, router.reloadCommand). */
  commandArgs: 64,
  /** An http(s) URL. */
  urlChars: 2048,
  /** Pauses of a rolling update (strategy.steps). */
  steps: 100,
  /** Pre-created ALB target groups (router.targetGroupArns). */
  targetGroupArns: 20,
  /** Any duration. */
  durationMs: 365 * 86_400_000,
  /** One probe's interval and timeout (waited for with Node timers in the activities). */
  probeMs: 3_600_000,
  /** The whole normalised spec as JSON (UTF-8 bytes): the workflow input. */
  specBytes: 64 * 1024,
  /** A spec file (CLI) or hook configuration file, checked before it is parsed. */
  fileBytes: 1024 * 1024,
  /** Problems reported for one spec (the rest are counted). */
  issues: 20,
} as const;

/** How long a local replica may take to listen on its PORT when the spec does not say (platform.startTimeout). */
export const DEFAULT_START_TIMEOUT_MS = 300_000;
