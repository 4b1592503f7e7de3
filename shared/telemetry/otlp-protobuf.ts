// The OTLP/HTTP protobuf body of a batch of spans (ExportTraceServiceRequest), byte for byte what
// @opentelemetry/otlp-transformer's ProtobufTraceSerializer writes (same fields, same order, same
// encodings; test/telemetry/otlp-protobuf.test.ts compares the two on every kind of span), at less
// than half its CPU (issue #18: the SDK's serialiser was the largest part of OTLP export's cost per
// call). What it does not do that the SDK's does:
//   - no first pass to size the buffer: one pass into a buffer sized from the previous batch, each
//     message's length written in a byte reserved before it (moved in the rare case it needs more);
//   - attribute keys (a fixed set: semconv names) are encoded once and copied as bytes afterwards;
//   - long strings are encoded by Buffer's native UTF-8 writer, short ones by a loop.
// It is a serializer for the SDK's own OTLP exporter (otel-env.ts): HTTP, retries, compression and
// headers stay the SDK's.
import type { AttributeValue, Attributes, HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;
/** Strings longer than this are written by Buffer's native encoder; shorter ones by a loop (cheaper than the call). */
const NATIVE_STRING_MIN = 24;
/** Encoded attribute keys kept; keys past this many (dynamic keys) are encoded each time. */
const MAX_CACHED_KEYS = 2048;
const SPAN_FLAGS_HAS_IS_REMOTE = 0x100;
const SPAN_FLAGS_IS_REMOTE = 0x200;

function varintSize(v: number): number {
  if (v < 0) return 10;
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return v < 0x800000000 ? 5 : 9; // lengths here never reach 5 bytes; 9 is an upper bound
}

class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A varint, as the SDK writes it: 32-bit fast path, then 64-bit two's complement for negatives and large values. */
  varint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 0x100000000) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 0x100000000) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      buf[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low & 0x7f;
  }

  /** A tag below 16 fields × 8 wire types: always one byte. */
  tag(field: number, wireType: number): void {
    this.ensure(1);
    this.buf[this.pos++] = (field << 3) | wireType;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  /** HrTime as fixed64 nanoseconds, exact (seconds split so no product passes 2^53), as the SDK does. */
  hrTime(t: HrTime): void {
    const seconds = t[0];
    const nanos = t[1];
    const fromLow = (seconds & 0xffff) * 1e9;
    const fromHigh = ((seconds / 0x10000) >>> 0) * 1e9;
    const lowWithCarry = (fromLow >>> 0) + (((fromHigh & 0xffff) * 0x10000) >>> 0) + nanos;
    const low = lowWithCarry >>> 0;
    const high = (Math.floor(fromLow / 0x100000000) + ((fromHigh / 0x10000) >>> 0) + Math.floor(lowWithCarry / 0x100000000)) >>> 0;
    this.ensure(8);
    this.buf.writeUInt32LE(low, this.pos);
    this.buf.writeUInt32LE(high, this.pos + 4);
    this.pos += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Length-delimited UTF-8 (lone surrogates as U+FFFD, as TextEncoder writes them). */
  string(s: string): void {
    const len = s.length;
    if (len < NATIVE_STRING_MIN) {
      let ascii = true;
      for (let i = 0; i < len; i++) {
        if (s.charCodeAt(i) > 127) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        this.ensure(len + 1);
        const buf = this.buf;
        buf[this.pos++] = len; // < 128
        for (let i = 0; i < len; i++) buf[this.pos++] = s.charCodeAt(i);
        return;
      }
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.buf.write(s, this.pos, n, 'utf8');
    this.pos += n;
  }

  /** Hex id as bytes (length-delimited), as the SDK's hexToBinary reads it. */
  hex(id: string): void {
    const n = id.length >>> 1;
    this.varint(n);
    this.ensure(n);
    const buf = this.buf;
    for (let i = 0; i < n; i++) buf[this.pos++] = (hexDigit(id.charCodeAt(2 * i)) << 4) | hexDigit(id.charCodeAt(2 * i + 1));
  }

  /** Reserves `reserve` bytes for a message's length; returns where the message starts. */
  begin(reserve: number): number {
    this.ensure(reserve);
    this.pos += reserve;
    return this.pos;
  }

  /** Writes the length of the message that began at `start` into its reserved bytes (moving the message if the length needs another size). */
  end(start: number, reserve: number): void {
    const length = this.pos - start;
    const size = varintSize(length);
    let at = start - reserve;
    if (size !== reserve) {
      this.ensure(size - reserve);
      this.buf.copyWithin(at + size, start, this.pos);
      this.pos += size - reserve;
    }
    const buf = this.buf;
    let v = length;
    while (v > 0x7f) {
      buf[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[at] = v;
  }

  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c - 55;
}

/** `KeyValue.key` (tag, length, bytes) of each key seen. */
const keyBytes = new Map<string, Uint8Array>();

function encodedKey(key: string): Uint8Array {
  let b = keyBytes.get(key);
  if (b === undefined) {
    const w = new Writer(key.length * 3 + 8);
    w.tag(1, 2);
    w.string(key);
    b = Uint8Array.prototype.slice.call(w.buf, 0, w.pos);
    if (keyBytes.size < MAX_CACHED_KEYS) keyBytes.set(key, b);
  }
  return b;
}

function anyValue(w: Writer, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.tag(1, 2);
      w.string(value);
      return;
    case 'boolean':
      w.tag(2, 0);
      w.varint(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        w.tag(3, 0);
        w.varint(value);
      } else {
        w.tag(4, 1);
        w.double(value);
      }
      return;
    default:
  }
  if (value instanceof Uint8Array) {
    w.tag(7, 2);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, 2);
    const array = w.begin(1);
    for (const item of value as unknown[]) {
      w.tag(1, 2);
      const start = w.begin(1);
      anyValue(w, item);
      w.end(start, 1);
    }
    w.end(array, 1);
  } else if (typeof value === 'object' && value !== null) {
    w.tag(6, 2);
    const list = w.begin(1);
    const obj = value as Record<string, unknown>;
    for (const k in obj) {
      if (!Object.prototype.hasOwnProperty.call(obj, k)) continue;
      w.tag(1, 2);
      const kv = w.begin(1);
      w.tag(1, 2);
      w.string(k);
      w.tag(2, 2);
      const v = w.begin(1);
      anyValue(w, obj[k]);
      w.end(v, 1);
      w.end(kv, 1);
    }
    w.end(list, 1);
  }
  // anything else: an empty AnyValue, as the SDK writes it
}

function attributes(w: Writer, attrs: Attributes, field: number): void {
  for (const key in attrs) {
    if (!Object.prototype.hasOwnProperty.call(attrs, key)) continue;
    const value: AttributeValue | undefined = attrs[key];
    w.tag(field, 2);
    const kv = w.begin(1);
    w.raw(encodedKey(key));
    w.tag(2, 2);
    if (typeof value === 'string' && value.length < 100) {
      // The common case, lengths known up front: nothing to move afterwards.
      const start = w.begin(1);
      w.tag(1, 2);
      w.string(value);
      w.end(start, 1);
    } else {
      const start = w.begin(1);
      anyValue(w, value);
      w.end(start, 1);
    }
    w.end(kv, 1);
  }
}

function resourceMessage(w: Writer, resource: Resource): void {
  w.tag(1, 2);
  const start = w.begin(2);
  if (resource.attributes) attributes(w, resource.attributes, 1);
  w.tag(2, 0);
  w.varint(0);
  w.end(start, 2);
}

function scopeMessage(w: Writer, scope: InstrumentationScope & { attributes?: Attributes; droppedAttributesCount?: number }): void {
  w.tag(1, 2);
  const start = w.begin(1);
  w.tag(1, 2);
  w.string(scope.name);
  if (scope.version) {
    w.tag(2, 2);
    w.string(scope.version);
  }
  if (scope.attributes) attributes(w, scope.attributes, 3);
  if (scope.droppedAttributesCount) {
    w.tag(4, 0);
    w.varint(scope.droppedAttributesCount);
  }
  w.end(start, 1);
}

function event(w: Writer, e: TimedEvent): void {
  const start = w.begin(2);
  w.tag(1, 1);
  w.hrTime(e.time);
  w.tag(2, 2);
  w.string(e.name);
  if (e.attributes) attributes(w, e.attributes, 3);
  w.tag(4, 0);
  w.varint(e.droppedAttributesCount || 0);
  w.end(start, 2);
}

/** Fields 1-3 of a Span and of a Span.Link alike: trace id, span id, trace state. */
function contextIds(w: Writer, ctx: SpanContext): void {
  w.tag(1, 2);
  w.hex(ctx.traceId);
  w.tag(2, 2);
  w.hex(ctx.spanId);
  const state = ctx.traceState?.serialize();
  if (state) {
    w.tag(3, 2);
    w.string(state);
  }
}

function link(w: Writer, l: Link): void {
  const start = w.begin(1);
  const ctx = l.context;
  contextIds(w, ctx);
  if (l.attributes) attributes(w, l.attributes, 4);
  w.tag(5, 0);
  w.varint(l.droppedAttributesCount || 0);
  w.tag(6, 5);
  w.fixed32((ctx.traceFlags & 0xff) | SPAN_FLAGS_HAS_IS_REMOTE | (ctx.isRemote ? SPAN_FLAGS_IS_REMOTE : 0));
  w.end(start, 1);
}

function span(w: Writer, s: ReadableSpan): void {
  const start = w.begin(2);
  const ctx = s.spanContext();
  contextIds(w, ctx);
  const parent = s.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, 2);
    w.hex(parent.spanId);
  }
  w.tag(5, 2);
  w.string(s.name);
  const kind = (s.kind as number | null | undefined) == null ? 0 : s.kind + 1;
  if (kind !== 0) {
    w.tag(6, 0);
    w.varint(kind);
  }
  w.tag(7, 1);
  w.hrTime(s.startTime);
  w.tag(8, 1);
  w.hrTime(s.endTime);
  if (s.attributes) attributes(w, s.attributes, 9);
  w.tag(10, 0);
  w.varint(s.droppedAttributesCount);
  for (const e of s.events) {
    w.tag(11, 2);
    event(w, e);
  }
  w.tag(12, 0);
  w.varint(s.droppedEventsCount);
  for (const l of s.links) {
    w.tag(13, 2);
    link(w, l);
  }
  w.tag(14, 0);
  w.varint(s.droppedLinksCount);
  w.tag(15, 2);
  const status = w.begin(1);
  if (s.status.message) {
    w.tag(2, 2);
    w.string(s.status.message);
  }
  w.tag(3, 0);
  w.varint(s.status.code);
  w.end(status, 1);
  // (16 << 3) | 5 needs two bytes.
  w.varint((16 << 3) | 5);
  w.fixed32((ctx.traceFlags & 0xff) | SPAN_FLAGS_HAS_IS_REMOTE | (parent?.isRemote ? SPAN_FLAGS_IS_REMOTE : 0));
  w.end(start, 2);
}

/** Bytes per span of the last batch: the next buffer's size, so that it rarely grows. */
let bytesPerSpan = 1024;

/** ExportTraceServiceRequest for these spans, grouped by resource then scope (object identity, first-seen order). */
export function serializeTraceExportRequest(spans: readonly ReadableSpan[]): Uint8Array {
  const byResource = new Map<Resource, Map<InstrumentationScope, ReadableSpan[]>>();
  for (const s of spans) {
    let scopes = byResource.get(s.resource);
    if (scopes === undefined) {
      scopes = new Map();
      byResource.set(s.resource, scopes);
    }
    let list = scopes.get(s.instrumentationScope);
    if (list === undefined) {
      list = [];
      scopes.set(s.instrumentationScope, list);
    }
    list.push(s);
  }
  const w = new Writer(Math.max(256, Math.ceil(spans.length * bytesPerSpan * 1.25) + 256));
  for (const [resource, scopes] of byResource) {
    w.tag(1, 2);
    const resourceSpans = w.begin(3);
    resourceMessage(w, resource);
    for (const list of scopes.values()) {
      w.tag(2, 2);
      const scopeSpans = w.begin(3);
      const scope = (list[0] as ReadableSpan).instrumentationScope;
      scopeMessage(w, scope);
      for (const s of list) {
        w.tag(2, 2);
        span(w, s);
      }
      if (scope.schemaUrl) {
        w.tag(3, 2);
        w.string(scope.schemaUrl);
      }
      w.end(scopeSpans, 3);
    }
    if (resource.schemaUrl) {
      w.tag(3, 2);
      w.string(resource.schemaUrl);
    }
    w.end(resourceSpans, 3);
  }
  if (spans.length > 0) bytesPerSpan = Math.ceil(w.pos / spans.length);
  return w.buf.subarray(0, w.pos);
}
