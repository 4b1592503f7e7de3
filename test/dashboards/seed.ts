// Realistic, deterministic traffic for the dashboard tests: two weeks of calls from three
// services (routes, providers, models, tenants, users, features, errors, retries, fallbacks,
// breaker skips, cache statuses, streams), emitted as real OpenTelemetry spans through the
// ClickHouse span exporter (→ otel_traces → llm_calls → llm_calls_1m), plus evaluator scores and
// end-user feedback rows (with re-runs / changes of mind that FINAL must collapse).
// The plan is plain data, so tests compute every expected figure from it independently of SQL.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LLM_EVAL_CALIBRATION as K, LLM_EVALUATIONS as E, LLM_FEEDBACK as F, SCORE_LABEL_NOT_APPLICABLE, TABLE_LLM_EVAL_CALIBRATION, TABLE_LLM_EVALUATIONS, TABLE_LLM_FEEDBACK } from '../../shared/clickhouse/schema.ts';
import { ClickHouseSpanExporter } from '../../shared/clickhouse/span-exporter.ts';
import { hrTimeToDateTime64 } from '../../shared/clickhouse/span-rows.ts';
import type { ClickHouseStore } from '../../shared/clickhouse/store.ts';
import { formatPicoUsd } from '../../shared/pricing/cost.ts';
import * as A from '../../shared/telemetry/semconv.ts';
import { CACHE_STATUS, EVENT, SKIP_REASON_CIRCUIT_OPEN } from '../../dashboards/sql.ts';
import { callAttributes, type ExpectedCall } from '../clickhouse/genai-spans.ts';

export interface SeedEvent {
  name: string;
  attributes: Record<string, string | number>;
}

export interface SeedCall extends ExpectedCall {
  service: string;
  user: string;
  feature: string;
  cacheStatus: string;
  overheadMs: number;
  /** Start, epoch ms (whole ms). */
  startMs: number;
  events: SeedEvent[];
  /** Cost in pico-USD (undefined = no price). */
  costPico?: bigint;
  /** On some cache hits: what the original call cost (llm_sidecar.cache.saved_usd), pico-USD. */
  savedPico?: bigint;
  traceId: string;
  spanId: string;
}

export interface SeedEvaluation {
  call: SeedCall;
  evaluator: string;
  version: string;
  score: number | null;
  label: string;
  explanation: string;
  errorType: string;
  judgeModel: string;
  judgeInputTokens: number;
  judgeOutputTokens: number;
  judgeCostPico: bigint;
  evaluatedAtMs: number;
}

export interface SeedFeedback {
  call: SeedCall;
  user: string;
  score: number;
  atMs: number;
  source: string;
}

export interface Seed {
  now: number;
  calls: SeedCall[];
  /** What FINAL sees: the latest row per key. */
  evaluations: SeedEvaluation[];
  feedback: SeedFeedback[];
  /** Rows written before the final ones (older EvaluatedAt / Timestamp): must not count. */
  supersededEvaluations: number;
  supersededFeedback: number;
  /** Latest calibration run per evaluator × version × labelled set. */
  calibrations: SeedCalibration[];
  supersededCalibrations: number;
}

export interface SeedCalibration {
  evaluator: string;
  version: string;
  labelsHash: string;
  examples: number;
  accuracy: number;
  kappa: number;
  runAtMs: number;
}

/** Calibration runs: relevance v1 was re-calibrated (the older run must not show), v2 and faithfulness once. */
export function planCalibration(now: number): { final: SeedCalibration[]; superseded: SeedCalibration[] } {
  const day = 24 * 3600_000;
  const final: SeedCalibration[] = [
    { evaluator: 'relevance', version: 'v1', labelsHash: 'h-support', examples: 120, accuracy: 0.86, kappa: 0.71, runAtMs: now - 10 * day },
    { evaluator: 'relevance', version: 'v2', labelsHash: 'h-support', examples: 120, accuracy: 0.91, kappa: 0.8, runAtMs: now - 6 * day },
    { evaluator: 'faithfulness', version: 'v1', labelsHash: 'h-rag', examples: 80, accuracy: 0.78, kappa: 0.55, runAtMs: now - 20 * day },
  ];
  const superseded = [{ ...(final[0] as SeedCalibration), accuracy: 0.5, kappa: 0.1, runAtMs: now - 12 * day }];
  return { final, superseded };
}

function calibrationRow(c: SeedCalibration): Record<string, string | number | null> {
  return {
    [K.RunAt]: (c.runAtMs / 1000).toFixed(3),
    [K.Evaluator]: c.evaluator,
    [K.EvaluatorVersion]: c.version,
    [K.JudgeModel]: 'gpt-4o-mini',
    [K.LabelsFile]: `${c.labelsHash}.jsonl`,
    [K.LabelsHash]: c.labelsHash,
    [K.OutputType]: 'scale',
    [K.Examples]: c.examples,
    [K.Judged]: c.examples,
    [K.Errors]: 0,
    [K.Accuracy]: c.accuracy,
    [K.Kappa]: c.kappa,
    [K.Spearman]: null,
    [K.Mae]: null,
    [K.JudgeCostUsd]: '0.01',
    [K.Details]: '{}',
  };
}

export const SERVICES = ['checkout-api', 'support-bot', 'batch-worker'] as const;
export const STALE_SERVICE = 'batch-worker';
export const TENANTS = ['acme', 'globex', 'initech'] as const;
export const BURST_ROUTE = 'search';
export const BREAKER_TARGET = 'search/openai-main/gpt-4o';
const USERS = ['ana', 'bo', 'cy', 'dee', 'eli', 'fay', 'gus', 'hal'];
const FEATURES = ['support-chat', 'search', 'summarize'];

/** pico-USD per token: input, cache read, cache write, output. */
const PRICES: Record<string, [number, number, number, number] | undefined> = {
  'gpt-4o-mini': [150_000, 75_000, 150_000, 600_000],
  'gpt-4o': [2_500_000, 1_250_000, 2_500_000, 10_000_000],
  'claude-sonnet-4-5': [3_000_000, 300_000, 3_750_000, 15_000_000],
  'claude-haiku-4-5': [1_000_000, 100_000, 1_250_000, 5_000_000],
  'local-llama': undefined,
};

const ROUTES: Record<string, { primary: [string, string, string]; fallback: [string, string, string] }> = {
  default: { primary: ['openai', 'openai-main', 'gpt-4o-mini'], fallback: ['anthropic', 'anthropic-main', 'claude-haiku-4-5'] },
  smart: { primary: ['anthropic', 'anthropic-main', 'claude-sonnet-4-5'], fallback: ['openai', 'openai-main', 'gpt-4o'] },
  search: { primary: ['openai', 'openai-main', 'gpt-4o'], fallback: ['anthropic', 'anthropic-main', 'claude-sonnet-4-5'] },
};

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hr(ms: number): HrTime {
  return [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];
}

interface CallOptions {
  service: string;
  route: string;
  startMs: number;
  fallback?: boolean;
  skippedOpen?: boolean;
  error?: { type: string; httpStatus: number } | undefined;
  attempts?: number;
  stream?: boolean;
  ttftS?: number;
  durationMs?: number;
  cacheStatus?: string;
  model?: [string, string, string];
}

/** The plan: every call with its attributes, deterministic for a given `now`. */
export function planCalls(now: number): SeedCall[] {
  const r = prng(8);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const calls: SeedCall[] = [];
  let n = 0;

  const make = (o: CallOptions): void => {
    const route = ROUTES[o.route] as (typeof ROUTES)[string];
    const [provider, providerConfig, model] = o.model ?? (o.fallback ? route.fallback : route.primary);
    const userIdx = Math.floor(r() * USERS.length);
    const user = USERS[userIdx] as string;
    const tenant = TENANTS[userIdx % TENANTS.length] as string;
    const error = o.error;
    const cacheStatus = error ? CACHE_STATUS.bypass : (o.cacheStatus ?? CACHE_STATUS.miss);
    const hit = cacheStatus === CACHE_STATUS.hit || cacheStatus === CACHE_STATUS.semanticHit || cacheStatus === CACHE_STATUS.stale;
    const stream = o.stream ?? r() < 0.5;
    const input = error || hit ? 0 : 200 + Math.floor(r() * 3000);
    const cacheRead = input > 0 && r() < 0.3 ? Math.floor(input * 0.5) : 0;
    const cacheWrite = input > 0 && provider === 'anthropic' && r() < 0.2 ? Math.floor(input * 0.1) : 0;
    const output = error || hit ? 0 : 20 + Math.floor(r() * 800);
    const reasoning = output > 0 && model === 'gpt-4o' && r() < 0.5 ? Math.floor(output * 0.3) : 0;
    const price = PRICES[model];
    let costPico: bigint | undefined;
    if (!error && price) {
      const [pin, pread, pwrite, pout] = price;
      costPico = BigInt(input - cacheRead - cacheWrite) * BigInt(pin) + BigInt(cacheRead) * BigInt(pread) + BigInt(cacheWrite) * BigInt(pwrite) + BigInt(output) * BigInt(pout);
    }
    const savedPico = hit && price && r() < 0.5 ? BigInt(1000) * BigInt(price[0]) + BigInt(200) * BigInt(price[3]) : undefined;
    const attempts = o.attempts ?? (error ? 1 + Math.floor(r() * 3) : r() < 0.08 ? 2 : 1);
    const fallbackIndex = o.fallback ? 1 : 0;
    const events: SeedEvent[] = [];
    const primaryTarget = `${o.route}/${route.primary[1]}/${route.primary[2]}`;
    const target = `${o.route}/${providerConfig}/${model}`;
    if (o.skippedOpen) events.push({ name: EVENT.targetSkipped, attributes: { target: primaryTarget, reason: SKIP_REASON_CIRCUIT_OPEN } });
    if (o.fallback) events.push({ name: EVENT.fallback, attributes: { target, index: 1 } });
    for (let a = 1; a < attempts; a++) events.push({ name: EVENT.retry, attributes: { target, attempt: a, delay_ms: 200 * a } });
    if (!error && !o.fallback && o.route === 'smart' && r() < 0.05) events.push({ name: EVENT.cascadeEscalated, attributes: { target, reason: 'short_answer' } });
    const ttft = !error && stream && !hit ? (o.ttftS ?? Math.round((0.2 + r() * 1.3) * 1000) / 1000) : undefined;
    const durationMs = o.durationMs ?? (hit ? 5 + Math.floor(r() * 20) : 300 + Math.floor(r() * 4000));
    const call: SeedCall = {
      label: `c${n++}`,
      operation: 'chat',
      provider,
      providerConfig,
      requestModel: model,
      route: o.route,
      tenant,
      inputTokens: input,
      outputTokens: output,
      cacheReadTokens: cacheRead,
      cacheWriteTokens: cacheWrite,
      reasoningTokens: reasoning,
      ...(costPico !== undefined ? { costUsd: formatPicoUsd(costPico), costPico } : {}),
      ...(savedPico !== undefined ? { savedPico } : {}),
      ...(ttft !== undefined ? { ttftSeconds: ttft } : {}),
      stream,
      sampled: !error && !hit && r() < 0.5,
      ...(error ? { error } : {}),
      httpStatus: error ? error.httpStatus : hit ? 0 : 200,
      attempts,
      fallbackIndex,
      durationMs,
      service: o.service,
      user,
      feature: pick(FEATURES),
      cacheStatus,
      overheadMs: Math.round((0.3 + r() * 3) * 1000) / 1000,
      startMs: o.startMs,
      events,
      traceId: '',
      spanId: '',
    };
    calls.push(call);
  };

  const errorKinds = [
    { type: 'rate_limit_exceeded', httpStatus: 429 },
    { type: 'server_error', httpStatus: 500 },
    { type: 'timeout', httpStatus: 0 },
  ];
  const cacheMix = (): string => {
    const x = r();
    return x < 0.1 ? CACHE_STATUS.hit : x < 0.17 ? CACHE_STATUS.semanticHit : x < 0.2 ? CACHE_STATUS.stale : x < 0.3 ? CACHE_STATUS.bypass : CACHE_STATUS.miss;
  };
  const normal = (service: string, startMs: number): void => {
    const route = pick(['default', 'default', 'smart', 'search']);
    const unpriced = route === 'default' && r() < 0.05;
    const error = r() < 0.08 ? pick(errorKinds) : undefined;
    const fallback = !error && r() < 0.05;
    make({ service, route, startMs, error, fallback, cacheStatus: cacheMix(), ...(unpriced ? { model: ['openai', 'local-vllm', 'local-llama'] as [string, string, string] } : {}) });
  };

  const minute = 60_000;
  const day = 24 * 60 * minute;
  // Two weeks of background traffic (older than the last hour), then the last hour.
  for (let i = 0; i < 360; i++) normal(r() < 0.6 ? 'checkout-api' : 'support-bot', Math.floor(now - 14 * day + r() * (14 * day - 60 * minute)));
  for (let i = 0; i < 50; i++) normal(r() < 0.6 ? 'checkout-api' : 'support-bot', Math.floor(now - 60 * minute + r() * 58 * minute));
  // Both live services wrote a span in the last two minutes.
  normal('support-bot', now - 2 * minute);
  normal('checkout-api', now - 90_000);
  // A stalled service: it wrote spans up to ~2 hours ago, none since.
  for (let i = 0; i < 25; i++) normal(STALE_SERVICE, Math.floor(now - 3 * 60 * minute + r() * 60 * minute));
  // The incident, in the last 10 minutes: route "search" on OpenAI fails and is slow, its breaker
  // opens, traffic falls back to Anthropic with slow first tokens.
  const burstStart = now - 9 * minute;
  for (let i = 0; i < 24; i++) {
    const failed = i < 18;
    make({
      service: 'checkout-api',
      route: BURST_ROUTE,
      startMs: Math.floor(burstStart + r() * 7 * minute),
      error: failed ? { type: 'server_error', httpStatus: 500 } : undefined,
      attempts: failed ? 3 : 1,
      stream: true,
      ttftS: 6 + r() * 3,
      durationMs: 35_000 + Math.floor(r() * 10_000),
      cacheStatus: CACHE_STATUS.miss,
    });
  }
  for (let i = 0; i < 14; i++) {
    make({
      service: 'checkout-api',
      route: BURST_ROUTE,
      // Calls that found the breaker open: in the last 4 minutes (inside the breaker rule's 5).
      startMs: Math.floor(i < 8 ? now - 4 * minute + r() * 2 * minute : burstStart + r() * 7 * minute),
      fallback: true,
      skippedOpen: i < 8,
      attempts: 1,
      stream: true,
      ttftS: 6 + r() * 3,
      durationMs: 32_000 + Math.floor(r() * 10_000),
      cacheStatus: CACHE_STATUS.miss,
    });
  }
  return calls.sort((a, b) => a.startMs - b.startMs);
}

/** Scores for sampled calls (two evaluators, relevance re-versioned a week ago) and users' thumbs. */
export function planQuality(calls: SeedCall[], now: number): { evaluations: SeedEvaluation[]; feedback: SeedFeedback[]; superseded: SeedEvaluation[]; supersededFeedback: SeedFeedback[] } {
  const r = prng(11);
  const evaluations: SeedEvaluation[] = [];
  const feedback: SeedFeedback[] = [];
  const week = 7 * 24 * 3600_000;
  for (const call of calls.filter((c) => c.sampled)) {
    const modelBias = call.requestModel.startsWith('claude') ? 0.05 : call.requestModel === 'gpt-4o-mini' ? -0.1 : 0;
    const recent = call.startMs > now - week;
    for (const evaluator of ['relevance', 'faithfulness']) {
      const failed = r() < 0.05;
      // relevance dropped this week on the default route (a regression for the dashboard to show).
      const drift = evaluator === 'relevance' && recent && call.route === 'default' ? -0.2 : 0;
      const score = failed ? null : Math.min(1, Math.max(0, Math.round((0.75 + modelBias + drift + (r() - 0.5) * 0.5) * 1000) / 1000));
      evaluations.push({
        call,
        evaluator,
        version: evaluator === 'relevance' ? (recent ? 'v2' : 'v1') : 'v1',
        score,
        label: score === null ? '' : score >= 0.5 ? 'pass' : 'fail',
        explanation: score === null ? '' : `${evaluator} judged ${score >= 0.5 ? 'adequate' : 'poor'} for ${call.label}`,
        errorType: failed ? 'judge_timeout' : '',
        judgeModel: 'gpt-4o-mini',
        judgeInputTokens: failed ? 0 : 800 + Math.floor(r() * 400),
        judgeOutputTokens: failed ? 0 : 60 + Math.floor(r() * 60),
        judgeCostPico: failed ? 0n : BigInt(100_000_000 + Math.floor(r() * 50_000_000)),
        evaluatedAtMs: Math.min(call.startMs + 60_000, now - 1000),
      });
    }
    // A check that applies to JSON answers only: most calls get a not_applicable row (no score, no error).
    const applies = r() < 0.2;
    const jsonScore = applies ? (r() < 0.9 ? 1 : 0) : null;
    evaluations.push({
      call,
      evaluator: 'valid_json',
      version: 'v1',
      score: jsonScore,
      label: jsonScore === null ? SCORE_LABEL_NOT_APPLICABLE : jsonScore === 1 ? 'pass' : 'fail',
      explanation: jsonScore === null ? 'the call did not ask for JSON' : jsonScore === 1 ? 'valid JSON' : 'invalid JSON',
      errorType: '',
      judgeModel: '',
      judgeInputTokens: 0,
      judgeOutputTokens: 0,
      judgeCostPico: 0n,
      evaluatedAtMs: Math.min(call.startMs + 60_000, now - 1000),
    });
    const rel = evaluations[evaluations.length - 3] as SeedEvaluation;
    if (r() < 0.4) {
      // Users mostly agree with the judge (85 %).
      const agree = r() < 0.85;
      const judgeGood = (rel.score ?? 0.75) >= 0.5;
      feedback.push({ call, user: call.user, score: judgeGood === agree ? 1 : -1, atMs: Math.min(call.startMs + 120_000, now - 1000), source: 'app' });
    }
  }
  // The semantic cache's watch (cache_equivalence, pass/fail) on every 8th sampled call, one in 7 failed;
  // deterministic (no draw from r(), so the rest of the seed is unchanged).
  calls
    .filter((c) => c.sampled)
    .filter((_, i) => i % 8 === 0)
    .forEach((call, i) => {
      const score = i % 7 === 3 ? 0 : 1;
      evaluations.push({
        call,
        evaluator: 'cache_equivalence',
        version: '1',
        score,
        label: score === 1 ? 'pass' : 'fail',
        explanation: score === 1 ? 'the cached answer answers the question' : 'the cached answer is about another question',
        errorType: '',
        judgeModel: 'gpt-4o-mini',
        judgeInputTokens: 900,
        judgeOutputTokens: 80,
        judgeCostPico: 120_000_000n,
        evaluatedAtMs: Math.min(call.startMs + 60_000, now - 1000),
      });
    });
  // Re-runs (older EvaluatedAt, other score) and changes of mind (older feedback): FINAL keeps the latest.
  const superseded = evaluations.slice(0, 6).map((e) => ({ ...e, score: 0.01, label: 'fail', evaluatedAtMs: e.evaluatedAtMs - 30_000 }));
  const supersededFeedback = feedback.slice(0, 4).map((f) => ({ ...f, score: -f.score, atMs: f.atMs - 30_000 }));
  return { evaluations, feedback, superseded, supersededFeedback };
}

function evaluationRow(e: SeedEvaluation): Record<string, unknown> {
  return {
    [E.Timestamp]: hrTimeToDateTime64(hr(e.call.startMs)),
    [E.EvaluatedAt]: (e.evaluatedAtMs / 1000).toFixed(3),
    [E.TraceId]: e.call.traceId,
    [E.SpanId]: e.call.spanId,
    [E.ServiceName]: e.call.service,
    [E.Route]: e.call.route,
    [E.RequestModel]: e.call.requestModel,
    [E.Evaluator]: e.evaluator,
    [E.EvaluatorVersion]: e.version,
    [E.ScoreValue]: e.score,
    [E.ScoreLabel]: e.label,
    [E.Explanation]: e.explanation,
    [E.ErrorType]: e.errorType,
    [E.JudgeModel]: e.judgeModel,
    [E.JudgeInputTokens]: e.judgeInputTokens,
    [E.JudgeOutputTokens]: e.judgeOutputTokens,
    [E.JudgeCostUsd]: e.errorType ? null : formatPicoUsd(e.judgeCostPico),
  };
}

function feedbackRow(f: SeedFeedback): Record<string, unknown> {
  return {
    [F.Timestamp]: (f.atMs / 1000).toFixed(3),
    [F.TraceId]: f.call.traceId,
    [F.SpanId]: f.call.spanId,
    [F.ServiceName]: f.call.service,
    [F.User]: f.user,
    [F.Score]: f.score,
    [F.Comment]: f.score > 0 ? 'thanks' : 'wrong answer',
    [F.Source]: f.source,
  };
}

/** Emits the calls as spans shaped like the proxy's (SERVER → gen_ai CLIENT → one CLIENT per attempt). */
async function emitCalls(store: ClickHouseStore, calls: SeedCall[]): Promise<void> {
  const spoolRoot = await mkdtemp(join(tmpdir(), 'dash-seed-spool-'));
  try {
    for (const service of SERVICES) {
      // Generous deadlines: on a loaded machine an insert that drives six views can take longer than
      // the exporter's 10 s default, and a spooled batch would fail the seed below.
      const exporter = new ClickHouseSpanExporter({ store, spoolDir: join(spoolRoot, service), log: () => undefined, insertTimeoutMs: 120_000, flushTimeoutMs: 120_000 });
      const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': service, 'k8s.pod.name': `${service}-7f9c` }),
        spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 20, maxExportBatchSize: 2048, maxQueueSize: 100_000 })],
      });
      const tracer = provider.getTracer('llm-sidecar', '0.1.0');
      for (const call of calls.filter((c) => c.service === service)) {
        const t0 = hr(call.startMs);
        const end = hr(call.startMs + Math.round(call.durationMs));
        const server = tracer.startSpan('POST /v1/chat/completions', {
          kind: SpanKind.SERVER,
          startTime: t0,
          attributes: { [A.ATTR_HTTP_REQUEST_METHOD]: 'POST', [A.ATTR_HTTP_RESPONSE_STATUS_CODE]: call.error ? (call.httpStatus || 504) : 200 },
        });
        const ctx = trace.setSpan(ROOT_CONTEXT, server);
        const attributes: Attributes = {
          ...callAttributes(call),
          [A.ATTR_LLM_SIDECAR_USER]: call.user,
          [A.ATTR_LLM_SIDECAR_FEATURE]: call.feature,
          [A.ATTR_LLM_SIDECAR_CACHE_STATUS]: call.cacheStatus,
          [A.ATTR_LLM_SIDECAR_OVERHEAD_MS]: call.overheadMs,
        };
        if (call.httpStatus === 0) delete attributes[A.ATTR_HTTP_RESPONSE_STATUS_CODE];
        if (call.savedPico !== undefined) attributes[A.ATTR_LLM_SIDECAR_CACHE_SAVED_USD] = formatPicoUsd(call.savedPico);
        const op = tracer.startSpan(`chat ${call.requestModel}`, { kind: SpanKind.CLIENT, startTime: t0, attributes }, ctx);
        call.traceId = op.spanContext().traceId;
        call.spanId = op.spanContext().spanId;
        call.events.forEach((ev, i) => op.addEvent(ev.name, ev.attributes, hr(call.startMs + i + 1)));
        if (call.error) op.setStatus({ code: SpanStatusCode.ERROR, message: call.error.type });
        for (let a = 0; a < call.attempts; a++) {
          const attempt = tracer.startSpan('POST', { kind: SpanKind.CLIENT, startTime: hr(call.startMs + a), attributes: { [A.ATTR_HTTP_REQUEST_METHOD]: 'POST', ...(a > 0 ? { [A.ATTR_HTTP_REQUEST_RESEND_COUNT]: a } : {}) } }, trace.setSpan(ctx, op));
          attempt.end(hr(call.startMs + a + 1));
        }
        op.end(end);
        server.end(end);
      }
      await provider.forceFlush();
      await provider.shutdown();
      const stats = exporter.stats();
      if (stats.dropped > 0 || stats.spooled > 0) throw new Error(`seed: exporter for ${service} spooled or dropped spans: ${JSON.stringify(stats)}`);
    }
  } finally {
    await rm(spoolRoot, { recursive: true, force: true });
  }
}

/** Seeds `store` (already migrated) and returns the plan with trace/span ids filled in. */
export async function seed(store: ClickHouseStore, now = Date.now()): Promise<Seed> {
  const calls = planCalls(now);
  await emitCalls(store, calls);
  const q = planQuality(calls, now);
  const db = store.database;
  // Superseded rows first, in their own insert: the final rows replace them.
  await store.insert(`${db}.${TABLE_LLM_EVALUATIONS}`, q.superseded.map(evaluationRow));
  await store.insert(`${db}.${TABLE_LLM_EVALUATIONS}`, q.evaluations.map(evaluationRow));
  await store.insert(`${db}.${TABLE_LLM_FEEDBACK}`, q.supersededFeedback.map(feedbackRow));
  await store.insert(`${db}.${TABLE_LLM_FEEDBACK}`, q.feedback.map(feedbackRow));
  const k = planCalibration(now);
  await store.insert(`${db}.${TABLE_LLM_EVAL_CALIBRATION}`, k.superseded.map(calibrationRow));
  await store.insert(`${db}.${TABLE_LLM_EVAL_CALIBRATION}`, k.final.map(calibrationRow));
  return {
    now,
    calls,
    evaluations: q.evaluations,
    feedback: q.feedback,
    supersededEvaluations: q.superseded.length,
    supersededFeedback: q.supersededFeedback.length,
    calibrations: k.final,
    supersededCalibrations: k.superseded.length,
  };
}

// --- Expected figures, computed from the plan ---

export function sumPico(values: readonly (bigint | undefined)[]): bigint {
  return values.reduce<bigint>((a, v) => a + (v ?? 0n), 0n);
}

export function picoToNumber(p: bigint): number {
  return Number(p) / 1e12;
}

/** Nearest-rank style percentile (for plausibility checks with a tolerance). */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] as number;
}
