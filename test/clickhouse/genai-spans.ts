// Synthetic proxy traffic as real OpenTelemetry spans (BasicTracerProvider from sdk-trace-base,
// attribute names from the semconv constants), shaped like the proxy's span tree:
//   SERVER "POST /v1/…" → gen_ai CLIENT "{operation} {model}" → CLIENT "POST" per attempt.
// CALLS lists what each gen_ai CLIENT span must become in llm_calls.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import * as A from '../../shared/telemetry/semconv.ts';

export const SERVICE_NAME = 'checkout-api';

export interface ExpectedCall {
  label: string;
  operation: string;
  provider: string;
  providerConfig: string;
  requestModel: string;
  route: string;
  tenant: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** Exact decimal string, or undefined = no cost attribute (unknown). */
  costUsd?: string;
  ttftSeconds?: number;
  stream: boolean;
  sampled: boolean;
  error?: { type: string; httpStatus: number };
  httpStatus: number;
  attempts: number;
  fallbackIndex: number;
  durationMs: number;
}

export const CALLS: ExpectedCall[] = [
  // OpenAI-like streamed chat, sampled for evaluation (content captured). prompt_tokens include cached.
  { label: 'openai-stream', operation: 'chat', provider: 'openai', providerConfig: 'openai-main', requestModel: 'gpt-4o-mini', route: 'default', tenant: 'acme', inputTokens: 1200, outputTokens: 300, cacheReadTokens: 200, cacheWriteTokens: 0, reasoningTokens: 50, costUsd: '0.000123456789', ttftSeconds: 0.35, stream: true, sampled: true, httpStatus: 200, attempts: 1, fallbackIndex: 0, durationMs: 1200 },
  // Anthropic-like: input = 100 uncached + 1800 cache read + 100 cache write. Content attributes
  // present but not sampled: llm_calls must not keep them.
  { label: 'anthropic', operation: 'chat', provider: 'anthropic', providerConfig: 'anthropic-main', requestModel: 'claude-sonnet-4-5', route: 'smart', tenant: 'globex', inputTokens: 2000, outputTokens: 500, cacheReadTokens: 1800, cacheWriteTokens: 100, reasoningTokens: 0, costUsd: '0.004567', stream: false, sampled: false, httpStatus: 200, attempts: 1, fallbackIndex: 0, durationMs: 2500.5 },
  // Failed after 3 attempts: error status, no usage, no cost.
  { label: 'error', operation: 'chat', provider: 'openai', providerConfig: 'openai-main', requestModel: 'gpt-4o', route: 'default', tenant: 'acme', inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, stream: false, sampled: false, error: { type: 'rate_limit_exceeded', httpStatus: 429 }, httpStatus: 429, attempts: 3, fallbackIndex: 1, durationMs: 3000 },
  // A model without a price: tokens known, cost unknown (NULL, never $0).
  { label: 'unpriced', operation: 'chat', provider: 'openai', providerConfig: 'local-vllm', requestModel: 'local-llama', route: 'default', tenant: 'acme', inputTokens: 100, outputTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, stream: false, sampled: false, httpStatus: 200, attempts: 1, fallbackIndex: 0, durationMs: 400 },
  { label: 'embeddings', operation: 'embeddings', provider: 'openai', providerConfig: 'openai-main', requestModel: 'text-embedding-3-small', route: 'default', tenant: 'acme', inputTokens: 50, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: '0.000001', stream: false, sampled: false, httpStatus: 200, attempts: 1, fallbackIndex: 0, durationMs: 80 },
];

export const INPUT_MESSAGES = JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'Where is my order <#42> & when?' }] }]);
export const OUTPUT_MESSAGES = JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 'It ships today.' }], finish_reason: 'stop' }]);
export const SYSTEM_INSTRUCTIONS = JSON.stringify([{ type: 'text', content: 'Be brief.' }]);

/** A time a few minutes ago, inside one minute, with nanoseconds that a millisecond clock could not give. */
export function baseTime(): HrTime {
  const minute = Math.floor((Date.now() - 5 * 60_000) / 60_000) * 60;
  return [minute + 1, 123_456_789];
}

export function addMs(t: HrTime, ms: number): HrTime {
  const ns = t[1] + Math.round(ms * 1e6);
  return [t[0] + Math.floor(ns / 1e9), ns % 1e9];
}

export function callAttributes(call: ExpectedCall): Attributes {
  const attrs: Attributes = {
    [A.ATTR_GEN_AI_OPERATION_NAME]: call.operation,
    [A.ATTR_GEN_AI_PROVIDER_NAME]: call.provider,
    [A.ATTR_GEN_AI_REQUEST_MODEL]: call.requestModel,
    [A.ATTR_GEN_AI_REQUEST_STREAM]: call.stream,
    [A.ATTR_GEN_AI_REQUEST_TEMPERATURE]: 0.2,
    [A.ATTR_SERVER_ADDRESS]: `${call.provider}.example`,
    [A.ATTR_SERVER_PORT]: 443,
    [A.ATTR_LLM_SIDECAR_PROVIDER]: call.providerConfig,
    [A.ATTR_LLM_SIDECAR_ROUTE]: call.route,
    [A.ATTR_LLM_SIDECAR_TENANT]: call.tenant,
    [A.ATTR_LLM_SIDECAR_USER]: `user-${call.label}`,
    [A.ATTR_LLM_SIDECAR_FEATURE]: 'support-chat',
    [A.ATTR_LLM_SIDECAR_ATTEMPTS]: call.attempts,
    [A.ATTR_LLM_SIDECAR_FALLBACK_INDEX]: call.fallbackIndex,
    [A.ATTR_LLM_SIDECAR_CACHE_STATUS]: call.error ? 'bypass' : 'miss',
    [A.ATTR_LLM_SIDECAR_OVERHEAD_MS]: 1.25,
    [A.ATTR_LLM_SIDECAR_EVAL_SAMPLED]: call.sampled,
    [A.ATTR_HTTP_RESPONSE_STATUS_CODE]: call.httpStatus,
  };
  if (!call.error) {
    attrs[A.ATTR_GEN_AI_RESPONSE_MODEL] = `${call.requestModel}-2025`;
    attrs[A.ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = ['stop'];
    attrs[A.ATTR_GEN_AI_USAGE_INPUT_TOKENS] = call.inputTokens;
    attrs[A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = call.outputTokens;
    attrs[A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = call.cacheReadTokens;
    attrs[A.ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = call.cacheWriteTokens;
    attrs[A.ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = call.reasoningTokens;
  } else {
    attrs[A.ATTR_ERROR_TYPE] = call.error.type;
  }
  if (call.costUsd !== undefined) attrs[A.ATTR_LLM_SIDECAR_COST_USD] = call.costUsd;
  if (call.ttftSeconds !== undefined) attrs[A.ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = call.ttftSeconds;
  if (call.label === 'openai-stream' || call.label === 'anthropic') {
    attrs[A.ATTR_GEN_AI_INPUT_MESSAGES] = INPUT_MESSAGES;
    attrs[A.ATTR_GEN_AI_OUTPUT_MESSAGES] = OUTPUT_MESSAGES;
    attrs[A.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS] = SYSTEM_INSTRUCTIONS;
  }
  return attrs;
}

export interface Traffic {
  provider: BasicTracerProvider;
  /** Every finished span, as the exporter received it. */
  memory: InMemorySpanExporter;
}

/** A tracer provider exporting through `exporter` behind a BatchSpanProcessor (as in production). */
export function tracerProvider(exporter: SpanExporter): Traffic {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': SERVICE_NAME, 'k8s.pod.name': 'checkout-api-7f9c', 'service.instance.num': 3 }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 20, maxExportBatchSize: 512, maxQueueSize: 100_000 }), new SimpleSpanProcessor(memory)],
  });
  return { provider, memory };
}

/** Emits the CALLS scenario (plus a non-CLIENT gen_ai span that llm_calls must ignore). */
export function emitScenario(provider: BasicTracerProvider, start: HrTime = baseTime()): void {
  const tracer = provider.getTracer('llm-sidecar', '0.1.0');
  let first: ReturnType<typeof tracer.startSpan> | undefined;
  CALLS.forEach((call, i) => {
    const t0 = addMs(start, i * 10);
    const end = addMs(t0, call.durationMs);
    const server = tracer.startSpan(`POST /v1/${call.operation === 'embeddings' ? 'embeddings' : 'chat/completions'}`, {
      kind: SpanKind.SERVER,
      startTime: t0,
      attributes: { [A.ATTR_HTTP_REQUEST_METHOD]: 'POST', [A.ATTR_HTTP_RESPONSE_STATUS_CODE]: call.httpStatus },
      links: first ? [{ context: first.spanContext(), attributes: { 'link.reason': 'retry-of' } }] : [],
    });
    const ctx = trace.setSpan(ROOT_CONTEXT, server);
    const op = tracer.startSpan(`${call.operation} ${call.requestModel}`, { kind: SpanKind.CLIENT, startTime: t0, attributes: callAttributes(call) }, ctx);
    op.addEvent('llm_sidecar.cache.lookup', { [A.ATTR_LLM_SIDECAR_CACHE_STATUS]: 'miss', 'llm_sidecar.cache.hit': false }, addMs(t0, 1));
    if (call.error) op.setStatus({ code: SpanStatusCode.ERROR, message: call.error.type });
    for (let a = 0; a < call.attempts; a++) {
      const attempt = tracer.startSpan('POST', { kind: SpanKind.CLIENT, startTime: addMs(t0, a), attributes: { [A.ATTR_HTTP_REQUEST_METHOD]: 'POST', ...(a > 0 ? { [A.ATTR_HTTP_REQUEST_RESEND_COUNT]: a } : {}) } }, trace.setSpan(ctx, op));
      attempt.end(addMs(t0, a + 1));
    }
    op.end(end);
    server.end(end);
    first ??= op;
  });
  // gen_ai attributes on an INTERNAL span (e.g. a local step): not a provider call.
  const internal = tracer.startSpan('chat local-step', { kind: SpanKind.INTERNAL, startTime: start, attributes: { [A.ATTR_GEN_AI_OPERATION_NAME]: 'chat' } });
  internal.end(addMs(start, 5));
}
