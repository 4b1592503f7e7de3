// Sampled LLM calls as the proxy records them: real OpenTelemetry spans (SERVER request → gen_ai
// CLIENT operation, semconv attribute names, content as GenAI JSON messages on sampled calls),
// turned into otel_traces rows by the collector-layout converter and inserted, so llm_calls is
// filled by its materialized view exactly as in production.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type IdGenerator } from '@opentelemetry/sdk-trace-base';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { LLM_CALLS as C, LLM_EVALUATIONS as E, TABLE_LLM_CALLS, TABLE_LLM_EVALUATIONS, TABLE_OTEL_TRACES } from '../../shared/clickhouse/schema.ts';
import { spanToRow } from '../../shared/clickhouse/span-rows.ts';
import { createEmbeddedStore } from '../../shared/clickhouse/embedded-store.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import * as A from '../../shared/telemetry/semconv.ts';

export const hex = (bytes: number) => randomBytes(bytes).toString('hex');

export interface SeedCall {
  /** Epoch ms of the call's start (its Timestamp). */
  startMs: number;
  traceId?: string;
  spanId?: string;
  service?: string;
  route?: string;
  model?: string;
  feature?: string;
  sampled?: boolean;
  /** The user's message (or a full GenAI message list). */
  input?: string | object[];
  /** The assistant's text (or a full GenAI output message list). */
  output?: string | object[];
  finishReason?: string;
  system?: string;
  error?: boolean;
  operation?: string;
  responseId?: string;
  /** x-llm-sidecar-cache of the call (default miss). */
  cacheStatus?: string;
}

export type SeededCall = SeedCall & { traceId: string; spanId: string };

class PresetIds implements IdGenerator {
  traceId = hex(16);
  spanIds: string[] = [];
  generateTraceId(): string {
    return this.traceId;
  }
  generateSpanId(): string {
    return this.spanIds.shift() ?? hex(8);
  }
}

const hr = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6) + 123];

export function userMessages(text: string): object[] {
  return [{ role: 'user', parts: [{ type: 'text', content: text }] }];
}

export function assistantMessages(text: string, finishReason = 'stop'): object[] {
  return [{ role: 'assistant', parts: text ? [{ type: 'text', content: text }] : [], finish_reason: finishReason }];
}

function attributes(c: SeededCall): Attributes {
  const sampled = c.sampled ?? true;
  const attrs: Attributes = {
    [A.ATTR_GEN_AI_OPERATION_NAME]: c.operation ?? 'chat',
    [A.ATTR_GEN_AI_PROVIDER_NAME]: 'openai',
    [A.ATTR_GEN_AI_REQUEST_MODEL]: c.model ?? 'gpt-4o-mini',
    [A.ATTR_GEN_AI_RESPONSE_MODEL]: `${c.model ?? 'gpt-4o-mini'}-2024-07-18`,
    [A.ATTR_GEN_AI_REQUEST_STREAM]: false,
    [A.ATTR_LLM_SIDECAR_PROVIDER]: 'openai-main',
    [A.ATTR_LLM_SIDECAR_ROUTE]: c.route ?? 'default',
    [A.ATTR_LLM_SIDECAR_TENANT]: 'acme',
    [A.ATTR_LLM_SIDECAR_USER]: 'user-1',
    [A.ATTR_LLM_SIDECAR_FEATURE]: c.feature ?? 'support-chat',
    [A.ATTR_LLM_SIDECAR_ATTEMPTS]: 1,
    [A.ATTR_LLM_SIDECAR_FALLBACK_INDEX]: 0,
    [A.ATTR_LLM_SIDECAR_CACHE_STATUS]: c.cacheStatus ?? 'miss',
    [A.ATTR_LLM_SIDECAR_EVAL_SAMPLED]: sampled,
    [A.ATTR_HTTP_RESPONSE_STATUS_CODE]: c.error ? 500 : 200,
    [A.ATTR_GEN_AI_USAGE_INPUT_TOKENS]: 120,
    [A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: 40,
    [A.ATTR_LLM_SIDECAR_COST_USD]: '0.000042',
    [A.ATTR_GEN_AI_RESPONSE_ID]: c.responseId ?? `chatcmpl-${c.spanId}`,
  };
  if (c.error) attrs[A.ATTR_ERROR_TYPE] = 'server_error';
  if (sampled) {
    const output = typeof c.output === 'string' || c.output === undefined ? assistantMessages(c.output ?? 'It ships today.', c.finishReason) : c.output;
    attrs[A.ATTR_GEN_AI_INPUT_MESSAGES] = JSON.stringify(typeof c.input === 'string' || c.input === undefined ? userMessages(c.input ?? 'Where is my order?') : c.input);
    if (!c.error) attrs[A.ATTR_GEN_AI_OUTPUT_MESSAGES] = JSON.stringify(output);
    if (c.system) attrs[A.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS] = JSON.stringify([{ type: 'text', content: c.system }]);
  }
  return attrs;
}

/** Emits the calls as spans and inserts their otel_traces rows (→ llm_calls through the view). */
export async function seedCalls(store: ClickHouseStore, calls: SeedCall[], database = store.database): Promise<SeededCall[]> {
  const ids = new PresetIds();
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    idGenerator: ids,
    resource: resourceFromAttributes({ 'service.name': 'checkout-api' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const seeded: SeededCall[] = calls.map((c) => ({ ...c, traceId: c.traceId ?? hex(16), spanId: c.spanId ?? hex(8) }));
  const services = new Map<string, BasicTracerProvider>();
  for (const c of seeded) {
    // Service name is a resource attribute: one provider per service.
    let p = provider;
    if (c.service && c.service !== 'checkout-api') {
      p = services.get(c.service) ?? new BasicTracerProvider({ idGenerator: ids, resource: resourceFromAttributes({ 'service.name': c.service }), spanProcessors: [new SimpleSpanProcessor(memory)] });
      services.set(c.service, p);
    }
    const tracer = p.getTracer('llm-sidecar', '0.1.0');
    ids.traceId = c.traceId;
    ids.spanIds = [hex(8), c.spanId];
    const server = tracer.startSpan('POST /v1/chat/completions', { kind: SpanKind.SERVER, startTime: hr(c.startMs) }, ROOT_CONTEXT);
    const op = tracer.startSpan(`chat ${c.model ?? 'gpt-4o-mini'}`, { kind: SpanKind.CLIENT, startTime: hr(c.startMs), attributes: attributes(c) }, trace.setSpan(ROOT_CONTEXT, server));
    if (c.error) op.setStatus({ code: SpanStatusCode.ERROR, message: 'server_error' });
    op.end(hr(c.startMs + 800));
    server.end(hr(c.startMs + 801));
  }
  const rows = memory.getFinishedSpans().map(spanToRow);
  await store.insert(`${database}.${TABLE_OTEL_TRACES}`, rows);
  return seeded;
}

export interface EmbeddedFixture {
  store: ClickHouseStore;
  dir: string;
  close(): Promise<void>;
}

/** One chdb data directory for a whole test file (one embedded engine per process), schema applied. */
export async function embeddedStore(prefix: string): Promise<EmbeddedFixture> {
  const dir = await mkdtemp(join(tmpdir(), `llm-sidecar-${prefix}-`));
  const store = await createEmbeddedStore({ dataDir: join(dir, 'chdb') });
  await migrate(store);
  return {
    store,
    dir,
    async close() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface EvalRow {
  traceId: string;
  spanId: string;
  evaluator: string;
  version: string;
  value: number | null;
  label: string;
  explanation: string;
  errorType: string;
  judgeModel: string;
  inTokens: string;
  outTokens: string;
  cost: string | null;
}

/** Every llm_evaluations row (FINAL: what the dashboards see; without: every row written). */
export async function evaluations(store: ClickHouseStore, final = true): Promise<EvalRow[]> {
  return store.query<EvalRow>(
    `SELECT ${E.TraceId} AS traceId, ${E.SpanId} AS spanId, ${E.Evaluator} AS evaluator, ${E.EvaluatorVersion} AS version, ${E.ScoreValue} AS value,
  ${E.ScoreLabel} AS label, ${E.Explanation} AS explanation, ${E.ErrorType} AS errorType, ${E.JudgeModel} AS judgeModel,
  ${E.JudgeInputTokens} AS inTokens, ${E.JudgeOutputTokens} AS outTokens, toString(${E.JudgeCostUsd}) AS cost
FROM ${store.database}.${TABLE_LLM_EVALUATIONS}${final ? ' FINAL' : ''}
ORDER BY ${E.Evaluator}, ${E.SpanId}`,
  );
}

/** Rows per (SpanId, Evaluator, Version) that appear more than once (must be none, with or without FINAL). */
export async function duplicates(store: ClickHouseStore, final: boolean): Promise<{ spanId: string; evaluator: string; n: string }[]> {
  return store.query(
    `SELECT ${E.SpanId} AS spanId, ${E.Evaluator} AS evaluator, count() AS n
FROM ${store.database}.${TABLE_LLM_EVALUATIONS}${final ? ' FINAL' : ''}
GROUP BY ${E.SpanId}, ${E.Evaluator}, ${E.EvaluatorVersion}
HAVING n > 1`,
  );
}

/** Span ids of the sampled calls in llm_calls (what the evaluator should cover). */
export async function sampledSpanIds(store: ClickHouseStore): Promise<string[]> {
  const rows = await store.query<{ spanId: string }>(`SELECT ${C.SpanId} AS spanId FROM ${store.database}.${TABLE_LLM_CALLS} WHERE ${C.EvalSampled} = 1 ORDER BY spanId`);
  return rows.map((r) => r.spanId);
}
