// SSE framing from upstreams that are valid but unusual (CR-only or CRLF line ends, a BOM,
// comments, multi-line data, fields without a colon) or split at awkward places: the proxy's
// splitter must find exactly the events the WHATWG rules define. The reference is
// `eventsource-parser` (a maintained implementation of those rules): for every stream and every
// way of cutting it into chunks, both must yield the same (event, data) list.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { readEvent, SseSplitter } from '../../proxy/sse.ts';

interface Ev {
  event: string | undefined;
  data: string;
}

function reference(text: string): Ev[] {
  const out: Ev[] = [];
  const parser = createParser({ onEvent: (e: EventSourceMessage) => out.push({ event: e.event || undefined, data: e.data }) });
  parser.feed(text);
  return out;
}

function ours(chunks: Buffer[]): Ev[] {
  const splitter = new SseSplitter();
  const out: Ev[] = [];
  for (const c of chunks) {
    for (const raw of splitter.push(c)) {
      const ev = readEvent(raw);
      if (ev) out.push({ event: ev.event, data: ev.data });
    }
  }
  return out;
}

/** Deterministic pseudo-random cut points (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function chunkings(bytes: Buffer): Buffer[][] {
  const ways: Buffer[][] = [[bytes], Array.from(bytes, (b) => Buffer.from([b]))];
  // Every single cut point: catches a CR/LF pair or a UTF-8 character split across two chunks.
  for (let i = 1; i < bytes.length; i++) ways.push([bytes.subarray(0, i), bytes.subarray(i)]);
  for (let seed = 1; seed <= 20; seed++) {
    const r = rng(seed);
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; ) {
      const n = 1 + Math.floor(r() * 12);
      parts.push(bytes.subarray(i, i + n));
      i += n;
    }
    ways.push(parts);
  }
  return ways;
}

const chunk = (content: string) => JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] });

const STREAMS: [string, string][] = [
  ['LF (OpenAI)', `data: ${chunk('a')}\n\ndata: ${chunk('b')}\n\ndata: [DONE]\n\n`],
  ['CRLF', `data: ${chunk('a')}\r\n\r\ndata: ${chunk('b')}\r\n\r\ndata: [DONE]\r\n\r\n`],
  ['CR only', `data: ${chunk('a')}\r\rdata: ${chunk('b')}\r\rdata: [DONE]\r\r`],
  ['mixed line ends', `data: ${chunk('a')}\r\n\ndata: ${chunk('b')}\n\r\ndata: x\r\rdata: y\n\n`],
  ['BOM first', `\uFEFFdata: ${chunk('a')}\n\n`],
  ['named events (Anthropic)', 'event: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: {"type": "ping"}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'],
  ['comments and keep-alives', ': keep-alive\n\n: OPENROUTER PROCESSING\n\ndata: 1\n: inline comment\ndata: 2\n\n'],
  ['multi-line data', 'data: line one\ndata: line two\ndata:\ndata: four\n\n'],
  ['no space after the colon, two spaces', 'data:{"a":1}\n\ndata:  two\n\n'],
  ['field without a colon', 'data\n\nevent\ndata: x\n\n'],
  ['event without data dispatches nothing', 'event: lonely\n\nid: 7\nretry: 1000\n\ndata: after\n\n'],
  ['unknown fields ignored', 'foo: bar\ndata: kept\nbaz\n\n'],
  ['blank lines between events', '\n\n\ndata: a\n\n\n\n\ndata: b\n\n'],
  ['multi-byte characters', `data: ${chunk('héllo → 世界 🎉')}\n\ndata: ${chunk('ünïcödé')}\n\n`],
  ['CR inside multi-line data', 'data: a\rdata: b\r\ndata: c\n\n'],
  ['event name then data, CRLF', 'event: content_block_delta\r\ndata: {"type":"content_block_delta"}\r\n\r\n'],
];

describe('SSE splitting follows the WHATWG rules (eventsource-parser as the reference)', () => {
  it.each(STREAMS)('%s: the same events for every way of chunking the stream', (_name, text) => {
    const expected = reference(text);
    expect(expected.length).toBeGreaterThan(0);
    const bytes = Buffer.from(text, 'utf8');
    for (const parts of chunkings(bytes)) expect(ours(parts)).toEqual(expected);
  });

  it('a CR-only stream yields its events (usage included), where the old LF-only splitter found none', () => {
    const usage = '{"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}';
    const events = ours([Buffer.from(`data: ${chunk('hi')}\r\rdata: ${usage}\r\rdata: [DONE]\r\r`)]);
    expect(events.map((e) => e.data)).toEqual([chunk('hi'), usage, '[DONE]']);
  });

  it('an unterminated last event is left for end(), which the attempt still reads leniently', () => {
    const s = new SseSplitter();
    expect(s.push(Buffer.from('data: a\n\ndata: [DONE]'))).toEqual(['data: a']);
    expect(readEvent(s.end())?.data).toBe('[DONE]');
  });
});
