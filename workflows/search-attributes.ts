/**
 * Search attributes the Temporal UI filters deployments by. Registered by
 * scripts/temporal-server.sh (dev server) and docker-compose (production).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const applicationKey = defineSearchAttributeKey('CutoverApplication', SearchAttributeType.KEYWORD);
export const environmentKey = defineSearchAttributeKey('CutoverEnvironment', SearchAttributeType.KEYWORD);
export const strategyKey = defineSearchAttributeKey('CutoverStrategy', SearchAttributeType.KEYWORD);
export const versionKey = defineSearchAttributeKey('CutoverVersion', SearchAttributeType.KEYWORD);
export const phaseKey = defineSearchAttributeKey('CutoverPhase', SearchAttributeType.KEYWORD);

/** Names as the server knows them, for `temporal server start-dev --search-attribute`. */
export const SEARCH_ATTRIBUTE_NAMES = [applicationKey, environmentKey, strategyKey, versionKey, phaseKey].map(
  (k) => k.name,
);
