/**
 * Messages of the OutSystems hook operation workflow (workflows/outsystems/operation.ts), defined once, like the
 * deployments' (workflows/messages.ts): the wire name is the constant's stem. The client (`CutoverClient.hookStatus`)
 * imports them from here, never from the workflow implementation.
 */
import { defineQuery } from '@temporalio/workflow';
import type { HookOperationStatus } from './types';

/** The state of one hook operation: stage, deadline, what it waits for, its result once written. */
export const hookStatusQuery = defineQuery<HookOperationStatus>('hookStatus');
