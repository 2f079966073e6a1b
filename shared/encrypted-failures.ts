/**
 * The failure converter used when payload encryption is on (shared/codec.ts): a failure's message and stack trace
 * move into its encoded attributes, a payload, so the codec seals them like every other payload. Without it an
 * activity's error message ("cannot reach https://...", a command's output) would sit in the history in plain text.
 *
 * The worker loads this module by path (`dataConverter.failureConverterPath`): it is bundled into the workflow
 * sandbox too, so it imports only @temporalio/common. The client sets the same converter (client/client.ts).
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
