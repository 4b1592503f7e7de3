// All schema migrations, in the order they apply. Append new ones; never edit one that shipped
// (a running installation has already applied it and will not run it again).
import { otelTraces } from './001-otel-traces.ts';
import { otelTracesDedup } from './002-otel-traces-dedup.ts';
import { llmCalls } from './003-llm-calls.ts';
import { llmCalls1m } from './004-llm-calls-1m.ts';
import { llmEvaluations } from './005-llm-evaluations.ts';
import { llmFeedback } from './006-llm-feedback.ts';
import { llmEvalCalibration } from './007-llm-eval-calibration.ts';
import { llmEvaluationsEvaluatedAtIndex } from './008-llm-evaluations-evaluated-at-index.ts';
import { llmCallsCacheSavedUsd } from './009-llm-calls-cache-saved-usd.ts';
import { llmFeedbackNameLabel } from './010-llm-feedback-name-label.ts';
import { otelTracesFullTextIndexes } from './011-otel-traces-full-text-indexes.ts';
import { otelTracesRollups } from './012-otel-traces-rollups.ts';
import { llmCalls10mUsers1h } from './013-llm-calls-10m-users-1h.ts';
import { llmEvaluationsFeature } from './014-llm-evaluations-feature.ts';
import type { Migration } from './migration.ts';

export const MIGRATIONS: readonly Migration[] = [otelTraces, otelTracesDedup, llmCalls, llmCalls1m, llmEvaluations, llmFeedback, llmEvalCalibration, llmEvaluationsEvaluatedAtIndex, llmCallsCacheSavedUsd, llmFeedbackNameLabel, otelTracesFullTextIndexes, otelTracesRollups, llmCalls10mUsers1h, llmEvaluationsFeature];
