// OTLP/HTTP export to a collector, configured from the YAML or from the OpenTelemetry environment:
// spans of a proxied call arrive at a local receiver that decodes protobuf (the spec's default
// protocol) and JSON, with the headers, resource attributes and service name asked for.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import OpenAI from 'openai';
import protobuf from 'protobufjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OtelEnvError, resolveOtlp, resourceAttributesFromEnv } from '../../shared/telemetry/otel-env.ts';
import { startStack } from '../stack.ts';

// The part of opentelemetry/proto/collector/trace/v1 the checks read (other fields are skipped on decode).
const root = protobuf.parse(`
syntax = "proto3";
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; int32 kind = 6; repeated KeyValue attributes = 9; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
`).root;
const ExportRequest = root.lookupType('ExportTraceServiceRequest');

interface Received {
  contentType: string;
  headers: IncomingHttpHeaders;
  path: string;
  resource: Record<string, unknown>;
  spans: { name: string; traceId: string; attributes: Record<string, unknown> }[];
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
const flat = (attrs: { key: string; value: AnyValue }[] | undefined): Record<string, unknown> =>
  Object.fromEntries((attrs ?? []).map((a) => [a.key, a.value.stringValue ?? (a.value.intValue !== undefined ? Number(a.value.intValue) : (a.value.boolValue ?? a.value.doubleValue))]));

let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const contentType = req.headers['content-type'] ?? '';
      const decoded = contentType.startsWith('application/x-protobuf')
        ? (ExportRequest.toObject(ExportRequest.decode(body), { longs: Number, bytes: String }) as { resourceSpans?: { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeSpans?: { spans?: { name: string; traceId: string; attributes?: { key: string; value: AnyValue }[] }[] }[] }[] })
        : (JSON.parse(body.toString()) as { resourceSpans?: { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeSpans?: { spans?: { name: string; traceId: string; attributes?: { key: string; value: AnyValue }[] }[] }[] }[] });
      for (const rs of decoded.resourceSpans ?? []) {
        received.push({
          contentType,
          headers: req.headers,
          path: req.url ?? '',
          resource: flat(rs.resource?.attributes),
          spans: (rs.scopeSpans ?? []).flatMap((s) => s.spans ?? []).map((s) => ({ name: s.name, traceId: s.traceId, attributes: flat(s.attributes) })),
        });
      }
      res.writeHead(200, { 'content-type': contentType.startsWith('application/x-protobuf') ? 'application/x-protobuf' : 'application/json' }).end(contentType.startsWith('application/json') ? '{}' : undefined);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => receiver.close(() => r()));
});

const OTEL_VARS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_COMPRESSION', 'OTEL_RESOURCE_ATTRIBUTES', 'OTEL_SERVICE_NAME'];
afterEach(() => {
  for (const v of OTEL_VARS) delete process.env[v];
  received.length = 0;
});

/** One proxied chat call through a sidecar with this telemetry section; closing the sidecar flushes the batch. */
async function oneCall(telemetry: Record<string, unknown>): Promise<{ inputTokens: number }> {
  const stack = await startStack((url) => ({ providers: { openai: { type: 'openai', baseUrl: `${url}/v1` } }, telemetry: { clickhouse: { mode: 'off' }, ...telemetry } }));
  try {
    const client = new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'otlp please' }] });
    return { inputTokens: r.usage?.prompt_tokens ?? -1 };
  } finally {
    await stack.close();
  }
}

describe('OTLP export', () => {
  it('sends http/protobuf by default: the span tree with the app’s service name', async () => {
    const { inputTokens } = await oneCall({ serviceName: 'checkout-api', otlp: { endpoint: `${receiverUrl}/v1/traces` } });
    expect(received.length).toBeGreaterThan(0);
    expect(received.every((r) => r.contentType.startsWith('application/x-protobuf'))).toBe(true);
    const spans = received.flatMap((r) => r.spans);
    const op = spans.find((s) => s.name === 'chat gpt-4o-mini');
    expect(op?.attributes['gen_ai.usage.input_tokens']).toBe(inputTokens);
    expect(spans.filter((s) => s.traceId === op?.traceId)).toHaveLength(3);
    expect(received[0]?.resource['service.name']).toBe('checkout-api');
  });

  it('sends http/json when asked', async () => {
    await oneCall({ otlp: { endpoint: `${receiverUrl}/v1/traces`, protocol: 'http/json' } });
    expect(received.length).toBeGreaterThan(0);
    expect(received.every((r) => r.contentType.startsWith('application/json'))).toBe(true);
    expect(received.flatMap((r) => r.spans).some((s) => s.name === 'chat gpt-4o-mini')).toBe(true);
  });

  it('is configured by the OpenTelemetry environment alone, which wins over the YAML', async () => {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiverUrl; // signal-agnostic: /v1/traces is appended
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-scope-orgid=team%20a,authorization=Bearer tok';
    process.env.OTEL_EXPORTER_OTLP_COMPRESSION = 'gzip';
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment.name=prod,service.name=from-attributes';
    process.env.OTEL_SERVICE_NAME = 'from-env';
    await oneCall({ serviceName: 'from-yaml', otlp: { endpoint: 'http://127.0.0.1:9/ignored' } });
    expect(received.length).toBeGreaterThan(0);
    const first = received[0] as Received;
    expect(first.path).toBe('/v1/traces');
    expect(first.headers['x-scope-orgid']).toBe('team a');
    expect(first.headers.authorization).toBe('Bearer tok');
    expect(first.headers['content-encoding']).toBe('gzip');
    expect(first.resource['deployment.environment.name']).toBe('prod');
    expect(first.resource['service.name']).toBe('from-env');
  });
});

describe('resolving the OpenTelemetry environment', () => {
  const yaml = { endpoint: 'http://collector:4318/v1/traces', headers: { a: '1' } };

  it('keeps the YAML when nothing is set, with the spec’s defaults', () => {
    expect(resolveOtlp(yaml, {})).toEqual({ url: 'http://collector:4318/v1/traces', headers: { a: '1' }, protocol: 'http/protobuf', timeoutMs: 10_000, compression: 'none' });
    expect(resolveOtlp(undefined, {})).toBeUndefined();
  });

  it('prefers the traces-specific variables over the generic ones', () => {
    const s = resolveOtlp(undefined, {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://generic:4318/',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/custom',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '2500',
    });
    expect(s).toMatchObject({ url: 'http://traces:4318/custom', protocol: 'http/protobuf', timeoutMs: 2500 });
    expect(resolveOtlp(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://generic:4318/' })?.url).toBe('http://generic:4318/v1/traces');
  });

  it('turns OTLP off with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none, and on with otlp alone', () => {
    expect(resolveOtlp(yaml, { OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(resolveOtlp(yaml, { OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
    expect(resolveOtlp(undefined, { OTEL_TRACES_EXPORTER: 'otlp' })?.url).toBe('http://localhost:4318/v1/traces');
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /HTTP only/],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' }, /expected http\/protobuf or http\/json/],
    [{ OTEL_EXPORTER_OTLP_TIMEOUT: 'soon' }, /positive integer/],
    [{ OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' }, /gzip or none/],
    [{ OTEL_EXPORTER_OTLP_HEADERS: 'novalue' }, /not key=value/],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, /otlp and none/],
  ])('refuses %j with a message', (env, message) => {
    expect(() => resolveOtlp(yaml, env)).toThrow(OtelEnvError);
    expect(() => resolveOtlp(yaml, env)).toThrow(message);
  });

  it('reads OTEL_RESOURCE_ATTRIBUTES with percent-encoded values', () => {
    expect(resourceAttributesFromEnv({ OTEL_RESOURCE_ATTRIBUTES: 'a=1, b=x%2Cy ,c=' })).toEqual({ a: '1', b: 'x,y', c: '' });
  });
});
