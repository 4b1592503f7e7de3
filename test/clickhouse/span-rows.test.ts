// ReadableSpan → otel_traces row, field by field, as the collector's ClickHouse exporter writes it.
// No ClickHouse needed: the pipeline tests check that ClickHouse reads these rows.
import { describe, expect, it } from 'vitest';
import { attributeValueToString, hrTimeToDateTime64, spanToRow } from '../../shared/clickhouse/span-rows.ts';
import { OTEL_TRACES as C, OTEL_TRACES_NESTED as N } from '../../shared/clickhouse/schema.ts';
import * as A from '../../shared/telemetry/semconv.ts';
import { CALLS, SERVICE_NAME, baseTime, emitScenario, tracerProvider } from './genai-spans.ts';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';

describe('attribute values as strings (pcommon AsString)', () => {
  it.each([
    ['text', 'text'],
    [42, '42'],
    [-7, '-7'],
    [1.5, '1.5'],
    [0.1, '0.1'],
    [1e-7, '0.0000001'],
    [-2.5e-8, '-0.000000025'],
    [1e21, '1000000000000000000000'],
    [1.5e22, '15000000000000000000000'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, '+Inf'],
    [true, 'true'],
    [false, 'false'],
    [['stop', 'length'], '["stop","length"]'],
    [[1, 2.5], '[1,2.5]'],
    [[true, false], '[true,false]'],
    [['<b>&'], '["\\u003cb\\u003e\\u0026"]'],
  ] as const)('%j → %s', (value, expected) => {
    expect(attributeValueToString(value as never)).toBe(expected);
  });
});

describe('spanToRow', () => {
  const memory = new InMemorySpanExporter();
  const { provider, memory: recorded } = tracerProvider(memory);
  const start = baseTime();
  emitScenario(provider, start);
  const spans = recorded.getFinishedSpans();
  const rows = spans.map(spanToRow);
  const op = spans.find((s) => s.name === `chat ${CALLS[0]?.requestModel}`);
  const opRow = op && spanToRow(op);

  it('keeps nanosecond timestamps as exact "seconds.nanoseconds"', () => {
    expect(hrTimeToDateTime64([1_700_000_000, 5])).toBe('1700000000.000000005');
    expect(hrTimeToDateTime64([1_700_000_000, 123_456_789])).toBe('1700000000.123456789');
    expect(opRow?.[C.Timestamp]).toBe(`${start[0]}.123456789`);
  });

  it('writes ids as hex, the parent as "" for roots, kinds and statuses by name', () => {
    const roots = rows.filter((r) => r[C.ParentSpanId] === '');
    expect(roots.length).toBe(CALLS.length + 1); // SERVER spans and the INTERNAL one
    for (const r of rows) {
      expect(r[C.TraceId]).toMatch(/^[0-9a-f]{32}$/);
      expect(r[C.SpanId]).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(new Set(rows.map((r) => r[C.SpanKind]))).toEqual(new Set(['Server', 'Client', 'Internal']));
    expect(opRow?.[C.SpanKind]).toBe('Client');
    expect(opRow?.[C.StatusCode]).toBe('Unset');
    const failed = rows.find((r) => r[C.SpanName] === `chat ${CALLS[2]?.requestModel}`);
    expect(failed?.[C.StatusCode]).toBe('Error');
    expect(failed?.[C.StatusMessage]).toBe('rate_limit_exceeded');
  });

  it('takes the service from the resource and stringifies every attribute', () => {
    expect(opRow?.[C.ServiceName]).toBe(SERVICE_NAME);
    expect(opRow?.[C.ResourceAttributes]).toMatchObject({ 'service.name': SERVICE_NAME, 'service.instance.num': '3' });
    expect(opRow?.[C.ScopeName]).toBe('llm-sidecar');
    expect(opRow?.[C.ScopeVersion]).toBe('0.1.0');
    expect(opRow?.[C.SpanAttributes]).toMatchObject({
      [A.ATTR_GEN_AI_USAGE_INPUT_TOKENS]: '1200',
      [A.ATTR_GEN_AI_REQUEST_STREAM]: 'true',
      [A.ATTR_GEN_AI_REQUEST_TEMPERATURE]: '0.2',
      [A.ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]: '0.35',
      [A.ATTR_GEN_AI_RESPONSE_FINISH_REASONS]: '["stop"]',
      [A.ATTR_LLM_SIDECAR_COST_USD]: '0.000123456789',
    });
  });

  it('has the duration in nanoseconds and events and links as parallel arrays', () => {
    expect(opRow?.[C.Duration]).toBe(1_200_000_000);
    expect(opRow?.[N.EventsName]).toEqual(['llm_sidecar.cache.lookup']);
    expect(opRow?.[N.EventsAttributes]).toEqual([{ [A.ATTR_LLM_SIDECAR_CACHE_STATUS]: 'miss', 'llm_sidecar.cache.hit': 'false' }]);
    expect(opRow?.[N.EventsTimestamp]).toEqual([`${start[0]}.124456789`]);
    const linked = rows.find((r) => r[N.LinksSpanId].length > 0);
    expect(linked?.[N.LinksSpanId]).toEqual([op?.spanContext().spanId]);
    expect(linked?.[N.LinksTraceId]).toEqual([op?.spanContext().traceId]);
    expect(linked?.[N.LinksAttributes]).toEqual([{ 'link.reason': 'retry-of' }]);
    expect(linked?.[N.LinksTraceState]).toEqual(['']);
  });

  // Its cost is measured by test/clickhouse/bench-exporter.ts (convert), never asserted here.
});
