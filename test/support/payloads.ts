/**
 * Payload sizes of real workflow histories: what Temporal stores for each workflow input, activity input and result,
 * continue-as-new input and workflow result. Temporal warns above 512 KB per payload and refuses above 2 MB, so the
 * size tests read them from the history itself rather than estimating from the objects.
 */
import { Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type Payloads = temporal.api.common.v1.IPayloads | null | undefined;

/** Temporal's default per-payload warning (limit.blobSize.warn) and refusal (limit.blobSize.error). */
export const PAYLOAD_WARN_BYTES = 512 * 1024;
export const PAYLOAD_ERROR_BYTES = 2 * 1024 * 1024;

/** Bytes of a Payloads message: every payload's data and metadata. */
export function payloadBytes(payloads: Payloads): number {
  let bytes = 0;
  for (const p of payloads?.payloads ?? []) {
    bytes += p.data?.length ?? 0;
    for (const [key, value] of Object.entries(p.metadata ?? {})) bytes += key.length + (value?.length ?? 0);
  }
  return bytes;
}

/** The largest payload of each kind in a history: "workflow input", "activity input: <type>", ... */
export type PayloadCensus = Map<string, number>;

export function censusOf(
  history: temporal.api.history.v1.IHistory,
  into: PayloadCensus = new Map(),
  activityOf = new Map<string, string>(),
): PayloadCensus {
  const note = (what: string, payloads: Payloads) => {
    into.set(what, Math.max(into.get(what) ?? 0, payloadBytes(payloads)));
  };
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    const started = event.workflowExecutionStartedEventAttributes;
    if (started) note('workflow input', started.input);
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const type = scheduled.activityType?.name ?? '?';
      activityOf.set(id, type);
      note(`activity input: ${type}`, scheduled.input);
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed)
      note(`activity result: ${activityOf.get(String(completed.scheduledEventId)) ?? '?'}`, completed.result);
    const continued = event.workflowExecutionContinuedAsNewEventAttributes;
    if (continued) note('continue-as-new input', continued.input);
    const done = event.workflowExecutionCompletedEventAttributes;
    if (done) note('workflow result', done.result);
    const failed = event.workflowExecutionFailedEventAttributes;
    if (failed) note('workflow failure details', failed.failure?.applicationFailureInfo?.details);
    const child = event.startChildWorkflowExecutionInitiatedEventAttributes;
    if (child) note(`child workflow input: ${child.workflowType?.name ?? '?'}`, child.input);
  }
  return into;
}

/**
 * The census of one run's history. A history of large payloads is bigger than a gRPC message may be by default
 * (4 MB): it is read on a connection of its own that accepts large messages.
 */
export async function censusOfRun(
  address: string,
  namespace: string,
  workflowId: string,
  runId: string,
  into: PayloadCensus = new Map(),
): Promise<PayloadCensus> {
  const connection = await bigConnection(address);
  try {
    await readHistory(connection, namespace, workflowId, runId, into);
  } finally {
    await connection.close();
  }
  return into;
}

async function readHistory(
  connection: Connection,
  namespace: string,
  workflowId: string,
  runId: string,
  into: PayloadCensus,
): Promise<void> {
  let nextPageToken: Uint8Array | undefined;
  const activityOf = new Map<string, string>();
  do {
    const page = await connection.workflowService.getWorkflowExecutionHistory({
      namespace,
      execution: { workflowId, runId },
      nextPageToken,
    });
    censusOf(page.history ?? {}, into, activityOf);
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
}

/** "name: 12,345 B" lines, largest first. */
export function formatCensus(census: PayloadCensus): string {
  return [...census]
    .sort((a, b) => b[1] - a[1])
    .map(([what, bytes]) => `  ${what}: ${bytes.toLocaleString('en-US')} B`)
    .join('\n');
}

/** The decoded arguments of a run (its WorkflowExecutionStarted event), read on a large-message connection. */
export async function startedInput(
  address: string,
  namespace: string,
  workflowId: string,
  runId: string,
): Promise<unknown[]> {
  const connection = await bigConnection(address);
  try {
    const page = await connection.workflowService.getWorkflowExecutionHistory({
      namespace,
      execution: { workflowId, runId },
      maximumPageSize: 1,
    });
    const payloads = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    return payloads.map((p) => JSON.parse(Buffer.from(p.data ?? new Uint8Array()).toString('utf8')) as unknown);
  } finally {
    await connection.close();
  }
}

function bigConnection(address: string): Promise<Connection> {
  return Connection.connect({ address, channelArgs: { 'grpc.max_receive_message_length': 512 * 1024 * 1024 } });
}
