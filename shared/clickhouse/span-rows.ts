// ReadableSpan → one otel_traces row, exactly as the OpenTelemetry Collector's ClickHouse exporter
// writes it (exporter_traces.go + internal/util.go AttributesToMap), so the same views and
// dashboards work whichever path a span took. Runs for every span: plain loops, no intermediate
// objects, and resource attributes converted once per Resource (they are shared by all spans).
import { SpanKind, SpanStatusCode, type AttributeValue, type Attributes, type HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { OTEL_TRACES as C, OTEL_TRACES_NESTED as N, SPAN_KIND, STATUS_CODE } from './schema.ts';

export type StringMap = Record<string, string>;

/** One otel_traces row as a JSONEachRow object (Nested columns as their dotted sub-columns). */
export interface OtelTracesRow {
  /** DateTime64(9) as "unix seconds.nanoseconds": time-zone independent, exact. */
  [C.Timestamp]: string;
  [C.TraceId]: string;
  [C.SpanId]: string;
  [C.ParentSpanId]: string;
  [C.TraceState]: string;
  [C.SpanName]: string;
  [C.SpanKind]: string;
  [C.ServiceName]: string;
  [C.ResourceAttributes]: StringMap;
  [C.ScopeName]: string;
  [C.ScopeVersion]: string;
  [C.SpanAttributes]: StringMap;
  /** Nanoseconds (UInt64). A JS number is exact up to ~104 days. */
  [C.Duration]: number;
  [C.StatusCode]: string;
  [C.StatusMessage]: string;
  [N.EventsTimestamp]: string[];
  [N.EventsName]: string[];
  [N.EventsAttributes]: StringMap[];
  [N.LinksTraceId]: string[];
  [N.LinksSpanId]: string[];
  [N.LinksTraceState]: string[];
  [N.LinksAttributes]: StringMap[];
}

// ptrace.SpanKind.String() / ptrace.StatusCode.String(). The JS SDK's INTERNAL is 0 (OTLP's 1):
// it never produces "Unspecified".
const KIND_NAMES: Record<number, string> = {
  [SpanKind.INTERNAL]: SPAN_KIND.Internal,
  [SpanKind.SERVER]: SPAN_KIND.Server,
  [SpanKind.CLIENT]: SPAN_KIND.Client,
  [SpanKind.PRODUCER]: SPAN_KIND.Producer,
  [SpanKind.CONSUMER]: SPAN_KIND.Consumer,
};
const STATUS_NAMES: Record<number, string> = {
  [SpanStatusCode.UNSET]: STATUS_CODE.Unset,
  [SpanStatusCode.OK]: STATUS_CODE.Ok,
  [SpanStatusCode.ERROR]: STATUS_CODE.Error,
};

/** HrTime → "seconds.nanoseconds" (9 digits), which ClickHouse reads exactly into DateTime64(9). */
export function hrTimeToDateTime64(time: HrTime): string {
  const ns = Math.trunc(time[1]);
  return `${time[0]}.${ns < 100_000_000 ? String(ns).padStart(9, '0') : ns}`;
}

/**
 * A float as Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an
 * exponent ("0.0000001", not JS's "1e-7"); NaN and infinities as Go prints them.
 */
function formatFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  const s = String(n);
  const e = s.indexOf('e');
  if (e === -1) return s;
  // JS switched to exponent notation (|n| < 1e-6 or ≥ 1e21): write the digits out.
  const sign = n < 0 ? '-' : '';
  const [intPart = '', fracPart = ''] = s.slice(sign.length, e).split('.');
  const digits = intPart + fracPart;
  const point = intPart.length + Number(s.slice(e + 1)); // where the decimal point falls in `digits`
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

// Go's json.Marshal (used for slices) escapes these; JSON.stringify does not.
const GO_JSON_ESCAPE = /[<>&\u2028\u2029]/;
const GO_JSON_ESCAPES = /[<>&\u2028\u2029]/g;
const goEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** An attribute value as pcommon.Value.AsString(): strings as is, numbers as decimal text, arrays as JSON. */
export function attributeValueToString(value: AttributeValue): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < 1e21 ? String(value) : formatFloat(value);
    case 'boolean':
      return value ? 'true' : 'false';
    default: {
      const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? formatFloat(v) : v));
      return GO_JSON_ESCAPE.test(json) ? json.replace(GO_JSON_ESCAPES, goEscape) : json;
    }
  }
}

export function attributesToMap(attributes: Attributes | undefined): StringMap {
  const out: StringMap = {};
  if (attributes === undefined) return out;
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined && value !== null) out[key] = attributeValueToString(value);
  }
  return out;
}

interface ResourceRow {
  attributes: StringMap;
  serviceName: string;
}
const resourceRows = new WeakMap<object, ResourceRow>();

function resourceRow(resource: ReadableSpan['resource']): ResourceRow {
  let row = resourceRows.get(resource);
  if (row === undefined) {
    const attributes = attributesToMap(resource.attributes);
    row = { attributes, serviceName: attributes['service.name'] ?? '' };
    // Resources with async attributes still pending may change: convert those each time.
    if (resource.asyncAttributesPending !== true) resourceRows.set(resource, row);
  }
  return row;
}

/** The collector writes '' for an all-zero (invalid) id. */
const INVALID_SPAN_ID = '0000000000000000';
const INVALID_TRACE_ID = '00000000000000000000000000000000';
function hexOrEmpty(id: string | undefined): string {
  return id === undefined || id === INVALID_SPAN_ID || id === INVALID_TRACE_ID ? '' : id;
}

export function spanToRow(span: ReadableSpan): OtelTracesRow {
  const context = span.spanContext();
  const resource = resourceRow(span.resource);
  const eventTimes: string[] = [];
  const eventNames: string[] = [];
  const eventAttributes: StringMap[] = [];
  for (const event of span.events) {
    eventTimes.push(hrTimeToDateTime64(event.time));
    eventNames.push(event.name);
    eventAttributes.push(attributesToMap(event.attributes));
  }
  const linkTraceIds: string[] = [];
  const linkSpanIds: string[] = [];
  const linkStates: string[] = [];
  const linkAttributes: StringMap[] = [];
  for (const link of span.links) {
    linkTraceIds.push(hexOrEmpty(link.context.traceId));
    linkSpanIds.push(hexOrEmpty(link.context.spanId));
    linkStates.push(link.context.traceState?.serialize() ?? '');
    linkAttributes.push(attributesToMap(link.attributes));
  }
  const duration = span.duration[0] * 1e9 + Math.trunc(span.duration[1]);
  return {
    [C.Timestamp]: hrTimeToDateTime64(span.startTime),
    [C.TraceId]: hexOrEmpty(context.traceId),
    [C.SpanId]: hexOrEmpty(context.spanId),
    [C.ParentSpanId]: hexOrEmpty(span.parentSpanContext?.spanId),
    [C.TraceState]: context.traceState?.serialize() ?? '',
    [C.SpanName]: span.name,
    [C.SpanKind]: KIND_NAMES[span.kind] ?? SPAN_KIND.Unspecified,
    [C.ServiceName]: resource.serviceName,
    [C.ResourceAttributes]: resource.attributes,
    [C.ScopeName]: span.instrumentationScope.name,
    [C.ScopeVersion]: span.instrumentationScope.version ?? '',
    [C.SpanAttributes]: attributesToMap(span.attributes),
    [C.Duration]: duration > 0 ? duration : 0,
    [C.StatusCode]: STATUS_NAMES[span.status.code] ?? STATUS_CODE.Unset,
    [C.StatusMessage]: span.status.message ?? '',
    [N.EventsTimestamp]: eventTimes,
    [N.EventsName]: eventNames,
    [N.EventsAttributes]: eventAttributes,
    [N.LinksTraceId]: linkTraceIds,
    [N.LinksSpanId]: linkSpanIds,
    [N.LinksTraceState]: linkStates,
    [N.LinksAttributes]: linkAttributes,
  };
}
