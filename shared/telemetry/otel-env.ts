// The OpenTelemetry environment, as the specification defines it (SDK environment variables and
// the OTLP exporter's), for the proxy and the evaluator alike. Platforms configure services this
// way: the OpenTelemetry Operator and collector Helm charts inject OTEL_* into every container.
//
// Precedence (documented in the README): an OTEL_* variable that is set wins over the YAML, the
// same rule OTEL_SERVICE_NAME always followed here — the platform that injects it knows where the
// collector is; the YAML is the file that travels with the image. The YAML fills what the
// environment leaves unset; the spec's defaults fill the rest.
//
// Not taken from OTEL_*: the ClickHouse store. It is the product's own storage (llm_calls and the
// dashboards are derived from it), configured by `telemetry.clickhouse`; OTEL_SDK_DISABLED and
// OTEL_TRACES_EXPORTER=none switch off the OTLP export only.
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** The `telemetry.otlp` section of the YAML (all optional here: the environment may supply them). */
export interface OtlpFileConfig {
  endpoint?: string;
  headers?: Record<string, string>;
  protocol?: OtlpProtocol;
  timeoutMs?: number;
  compression?: 'gzip' | 'none';
}

export interface OtlpSettings {
  /** The traces URL (`…/v1/traces`). */
  url: string;
  headers: Record<string, string>;
  protocol: OtlpProtocol;
  timeoutMs: number;
  compression: 'gzip' | 'none';
}

export class OtelEnvError extends Error {}

const DEFAULT_TIMEOUT_MS = 10_000;

function set(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** `key1=value1,key2=value2` with percent-encoded values (W3C Baggage octets), as the spec's list format. */
export function parseKeyValueList(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new OtelEnvError(`${what}: "${part.trim()}" is not key=value`);
    const key = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      throw new OtelEnvError(`${what}: the value of "${key}" is not valid percent-encoding`);
    }
    out[key] = value;
  }
  return out;
}

function protocolOf(v: string | undefined, from: string): OtlpProtocol | undefined {
  if (v === undefined) return undefined;
  if (v === 'http/protobuf' || v === 'http/json') return v;
  if (v === 'grpc') throw new OtelEnvError(`${from}=grpc: this build exports over OTLP/HTTP only; use http/protobuf (the default) or http/json, and the collector's HTTP port (4318)`);
  throw new OtelEnvError(`${from}="${v}": expected http/protobuf or http/json`);
}

function timeoutOf(v: string | undefined, from: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new OtelEnvError(`${from}="${v}": expected a positive integer (milliseconds)`);
  return n;
}

function compressionOf(v: string | undefined, from: string): 'gzip' | 'none' | undefined {
  if (v === undefined) return undefined;
  if (v === 'gzip' || v === 'none') return v;
  throw new OtelEnvError(`${from}="${v}": expected gzip or none`);
}

/** The signal-agnostic endpoint gets `/v1/traces` appended; the traces endpoint is used as is (spec). */
function tracesUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Where and how spans go over OTLP, or undefined when OTLP export is off. Throws OtelEnvError on a
 * value the spec does not allow (the commands print it and stop, like a bad config file).
 */
export function resolveOtlp(file: OtlpFileConfig | undefined, env: NodeJS.ProcessEnv = process.env): OtlpSettings | undefined {
  if (set(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  const exporters = set(env, 'OTEL_TRACES_EXPORTER')
    ?.split(',')
    .map((s) => s.trim().toLowerCase());
  if (exporters !== undefined) {
    const unknown = exporters.filter((e) => e !== 'otlp' && e !== 'none');
    if (unknown.length > 0) throw new OtelEnvError(`OTEL_TRACES_EXPORTER="${exporters.join(',')}": this build supports otlp and none`);
    if (!exporters.includes('otlp')) return undefined;
  }
  const tracesEndpoint = set(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = set(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const url = tracesEndpoint ?? (endpoint !== undefined ? tracesUrl(endpoint) : file?.endpoint);
  // OTEL_TRACES_EXPORTER=otlp alone points at the spec's default collector address.
  const resolved = url ?? (exporters?.includes('otlp') ? 'http://localhost:4318/v1/traces' : undefined);
  if (resolved === undefined) return undefined;
  try {
    new URL(resolved);
  } catch {
    throw new OtelEnvError(`OTLP endpoint "${resolved}" is not a URL`);
  }
  const headersText = set(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS') ?? set(env, 'OTEL_EXPORTER_OTLP_HEADERS');
  const headers = { ...(file?.headers ?? {}), ...(headersText !== undefined ? parseKeyValueList(headersText, 'OTEL_EXPORTER_OTLP_HEADERS') : {}) };
  const protocol =
    protocolOf(set(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'), 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ??
    protocolOf(set(env, 'OTEL_EXPORTER_OTLP_PROTOCOL'), 'OTEL_EXPORTER_OTLP_PROTOCOL') ??
    file?.protocol ??
    'http/protobuf';
  const timeoutMs =
    timeoutOf(set(env, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT'), 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') ??
    timeoutOf(set(env, 'OTEL_EXPORTER_OTLP_TIMEOUT'), 'OTEL_EXPORTER_OTLP_TIMEOUT') ??
    file?.timeoutMs ??
    DEFAULT_TIMEOUT_MS;
  const compression =
    compressionOf(set(env, 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION'), 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION') ??
    compressionOf(set(env, 'OTEL_EXPORTER_OTLP_COMPRESSION'), 'OTEL_EXPORTER_OTLP_COMPRESSION') ??
    file?.compression ??
    'none';
  return { url: resolved, headers, protocol, timeoutMs, compression };
}

/** OTEL_RESOURCE_ATTRIBUTES as attributes (OTEL_SERVICE_NAME, read elsewhere, wins over its service.name). */
export function resourceAttributesFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const text = set(env, 'OTEL_RESOURCE_ATTRIBUTES');
  return text === undefined ? {} : parseKeyValueList(text, 'OTEL_RESOURCE_ATTRIBUTES');
}

/**
 * The OTLP trace exporter for these settings: `@opentelemetry/exporter-trace-otlp-http` for
 * http/json; for http/protobuf, the SDK's OTLP/HTTP exporter (the one
 * `@opentelemetry/exporter-trace-otlp-proto` builds: transport, retries, compression, headers) with
 * our serializer (otlp-protobuf.ts: the same bytes at less than half the CPU). Loaded only when configured.
 */
export async function createOtlpExporter(s: OtlpSettings): Promise<SpanExporter> {
  const options = { url: s.url, headers: s.headers, timeoutMillis: s.timeoutMs, compression: s.compression === 'gzip' ? ('gzip' as const) : ('none' as const) };
  if (s.protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter(options as ConstructorParameters<typeof OTLPTraceExporter>[0]);
  }
  const [{ OTLPExporterBase }, { convertLegacyHttpOptions, createOtlpHttpExportDelegate }, { ProtobufTraceSerializer, TraceExporterMetricsHelper }, { serializeTraceExportRequest }] = await Promise.all([
    import('@opentelemetry/otlp-exporter-base'),
    import('@opentelemetry/otlp-exporter-base/node-http'),
    import('@opentelemetry/otlp-transformer'),
    import('./otlp-protobuf.ts'),
  ]);
  const serializer = { serializeRequest: serializeTraceExportRequest, deserializeResponse: (data: Uint8Array) => ProtobufTraceSerializer.deserializeResponse(data) };
  const http = convertLegacyHttpOptions(options as Parameters<typeof convertLegacyHttpOptions>[0], 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
  return new OTLPExporterBase<ReadableSpan[]>(createOtlpHttpExportDelegate(http, serializer, 'otlp_http_span_exporter', TraceExporterMetricsHelper, undefined));
}
