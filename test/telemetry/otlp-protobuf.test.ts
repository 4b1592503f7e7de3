// The OTLP protobuf body the sidecar sends is the SDK's, byte for byte: our serializer
// (shared/telemetry/otlp-protobuf.ts) against @opentelemetry/otlp-transformer's on the same spans —
// SDK spans of every shape (attribute types, events, links, remote parents, trace state, several
// resources and scopes), the span recorder's finished spans, and random attributes.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { SpanRecorder } from '../../proxy/telemetry/span-recorder.ts';
import type { CallRecord } from '../../proxy/call-record.ts';
import { serializeTraceExportRequest } from '../../shared/telemetry/otlp-protobuf.ts';
import { Redactor } from '../../shared/telemetry/redact.ts';
import { createTracing } from '../../shared/telemetry/tracing.ts';

function sdk(spans: ReadableSpan[]): Buffer {
  return Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array);
}
function ours(spans: ReadableSpan[]): Buffer {
  return Buffer.from(serializeTraceExportRequest(spans));
}

function provider(resource: Record<string, string | number>, exporter: InMemorySpanExporter): BasicTracerProvider {
  return new BasicTracerProvider({ resource: resourceFromAttributes(resource), spanProcessors: [new SimpleSpanProcessor(exporter)] });
}

const SHAPES: Attributes = {
  ascii: 'plain text',
  empty: '',
  long: 'x'.repeat(300),
  longer: 'y'.repeat(20_000),
  unicode: 'héllo wörld — ☃ 日本語 🎉',
  longUnicode: `${'é'.repeat(40)}🎉${'a'.repeat(200)}`,
  loneSurrogate: 'bad \ud800 pair',
  zero: 0,
  int: 42,
  negative: -7,
  bigNegative: -(2 ** 40) - 3,
  big: 2 ** 40 + 5,
  huge: 2 ** 60,
  beyondInt64: 2 ** 70,
  float: 0.2,
  tinyFloat: 1e-7,
  nan: Number.NaN,
  inf: Number.POSITIVE_INFINITY,
  yes: true,
  no: false,
  strings: ['a', 'bé', ''],
  numbers: [1, 2.5, -3],
  bools: [true, false],
  mixed: ['a', 1, true, null, undefined] as unknown as string[],
  emptyArray: [],
  undef: undefined,
  [`k${'é'.repeat(70)}`]: 'a long non-ASCII key',
};

describe('OTLP protobuf serializer', () => {
  it('writes what the SDK writes, for SDK spans of every shape', () => {
    const exporter = new InMemorySpanExporter();
    const p1 = provider({ 'service.name': 'one', 'service.instance.id': 'pod-1', n: 3 }, exporter);
    const p2 = provider({ 'service.name': 'two ☃' }, exporter);
    const t1 = p1.getTracer('scope-a', '1.2.3');
    const t1b = p1.getTracer('scope-b');
    const t2 = p2.getTracer('scope-c', '0.1', { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' });
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: new TraceState('vendor=abc,other=x-y'),
    });
    const parent = t1.startSpan('parent', { kind: SpanKind.SERVER, attributes: SHAPES }, remote);
    const child = t1.startSpan(
      'child ☃',
      {
        kind: SpanKind.CLIENT,
        links: [
          { context: parent.spanContext(), attributes: { why: 'follows', n: 1 } },
          { context: { traceId: 'ABCDEF0123456789abcdef0123456789', spanId: '0123456789ABCDEF', traceFlags: 0, isRemote: true, traceState: new TraceState('k=v') } },
        ],
      },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    child.addEvent('first', { a: 'b', n: 2 });
    child.addEvent('second');
    child.addEvent('third', SHAPES, [1_700_000_000, 123_456_789]);
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'it broke — badly' });
    child.end();
    parent.setStatus({ code: SpanStatusCode.OK });
    parent.end();
    for (const kind of [SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER]) t1b.startSpan(`k${kind}`, { kind }).end();
    t2.startSpan('other resource', { startTime: [4_000_000_000, 999_999_999] }).end([4_000_000_001, 1]);
    t1.startSpan('after').end();
    const spans = exporter.getFinishedSpans();
    expect(spans.length).toBe(7);
    expect(ours(spans).equals(sdk(spans))).toBe(true);
    for (const s of spans) expect(ours([s]).equals(sdk([s]))).toBe(true);
    expect(ours([]).equals(sdk([]))).toBe(true);
    // Values the API's types do not allow (an SDK span drops them; a directly built span keeps
    // them), which the SDK's serializer still writes: bytes, nested key-value lists, null.
    const raw = spans[1] as ReadableSpan;
    const odd: ReadableSpan = {
      ...raw,
      spanContext: () => raw.spanContext(),
      attributes: { bytes: new Uint8Array([0, 1, 255]), kvlist: { a: 'b', n: 1, nested: { deep: [true, 'x'] } }, nothing: null } as unknown as Attributes,
    };
    expect(ours([odd]).equals(sdk([odd]))).toBe(true);
    expect(sdk([odd]).length).toBeGreaterThan(sdk([{ ...odd, attributes: {} }]).length + 20);
  });

  it('writes what the SDK writes for the span recorder’s finished spans', () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing({ serviceName: 'svc', exporters: [], processors: [new SimpleSpanProcessor(exporter)], env: { POD_NAME: 'pod-9' } });
    const recorder = new SpanRecorder({ sink: tracing, redactor: new Redactor([], true) });
    const now = Date.now();
    const call: CallRecord = {
      requestId: 'req-1',
      startEpochMs: now - 3.25,
      operationStartEpochMs: now - 2.5,
      endEpochMs: now,
      traceId: '0af7651916cd43dd8448eb211c80319c',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'congo=t61rcWkgMzE',
      evalSampled: true,
      method: 'POST',
      path: '/v1/chat/completions',
      serverAddress: '127.0.0.1',
      serverPort: 40123,
      requestParams: { maxTokens: 50, temperature: 0.2 },
      attemptDetails: [
        { startEpochMs: now - 2.4, endEpochMs: now - 1.5, statusCode: 503, errorType: '503', providerName: 'openai', model: 'gpt-4o-mini', serverAddress: '127.0.0.1', serverPort: 40123 },
        { startEpochMs: now - 1.4, endEpochMs: now - 0.2, statusCode: 200, providerName: 'openai', model: 'gpt-4o-mini', serverAddress: '127.0.0.1', serverPort: 40123 },
      ],
      dialect: 'openai',
      operation: 'chat',
      route: 'default',
      strategy: 'failover',
      decision: 'passthrough',
      events: [{ name: 'gen_ai.retry', epochMs: now - 1.45, attributes: { 'error.type': '503', attempt: 1 } }],
      fallbackIndex: 0,
      providerName: 'openai',
      providerType: 'openai',
      requestModel: 'gpt-4o-mini',
      upstreamModel: 'gpt-4o-mini',
      responseModel: 'gpt-4o-mini-2024-07-18',
      responseId: 'chatcmpl-1',
      finishReasons: ['stop'],
      stream: true,
      timeToFirstChunkMs: 12.5,
      httpStatus: 200,
      upstreamStatus: 200,
      cacheStatus: 'miss',
      durationMs: 3,
      overheadMs: 0.6,
      attempts: 2,
      completed: true,
      clientAborted: false,
      tenant: 'acme',
      usage: { inputTokens: 12, outputTokens: 9, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 4, reasoningTokens: 0 },
      costUsd: '0.0000072',
      content: { input: [{ role: 'user', parts: [{ type: 'text', content: 'héllo' }] }], output: [{ role: 'assistant', parts: [{ type: 'text', content: 'hi ☃' }], finish_reason: 'stop' }] },
    } as CallRecord;
    recorder.record(call);
    recorder.record({ ...call, traceparent: undefined, tracestate: undefined, httpStatus: 502, errorType: 'upstream', errorCode: 'LLM_SIDECAR_UPSTREAM_STREAM_ERROR' });
    const spans = exporter.getFinishedSpans();
    expect(spans.length).toBe(8);
    expect(ours(spans).equals(sdk(spans))).toBe(true);
  });

  it('writes what the SDK writes for random attributes', () => {
    const exporter = new InMemorySpanExporter();
    const tracer = provider({ 'service.name': 'random' }, exporter).getTracer('r');
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = ['a', 'Z', '0', ' ', '"', '\n', 'é', '€', '😀', '\u0000', '\udc00'];
    const str = (max: number): string => Array.from({ length: Math.floor(rnd() * max) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
    const value = (): Attributes[string] => {
      const r = rnd();
      if (r < 0.35) return str(r < 0.05 ? 400 : 40);
      if (r < 0.5) return Math.floor((rnd() - 0.5) * 2 ** (rnd() * 64));
      if (r < 0.6) return (rnd() - 0.5) * 1e6;
      if (r < 0.7) return rnd() < 0.5;
      if (r < 0.8) return Array.from({ length: Math.floor(rnd() * 4) }, () => str(10));
      return Array.from({ length: Math.floor(rnd() * 4) }, () => Math.floor(rnd() * 1000));
    };
    for (let i = 0; i < 200; i++) {
      const attrs: Attributes = {};
      for (let j = Math.floor(rnd() * 12); j > 0; j--) attrs[str(30) || 'k'] = value();
      const span = tracer.startSpan(str(50), { kind: Math.floor(rnd() * 5), attributes: attrs });
      if (rnd() < 0.3) span.addEvent(str(20), attrs);
      span.end();
    }
    const spans = exporter.getFinishedSpans();
    expect(ours(spans).equals(sdk(spans))).toBe(true);
  });
});
