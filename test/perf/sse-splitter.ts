// `node --import tsx test/perf/sse-splitter.ts`: the streaming hot path's SSE splitting, the
// WHATWG splitter (proxy/sse.ts) beside the LF-only one it replaced (kept here, verbatim in
// behaviour, as the baseline) and eventsource-parser. Prints ns per event for OpenAI-shaped
// streams delivered one event per chunk (a provider's usual pacing) and 16 events per chunk.
import { createParser } from 'eventsource-parser';
import { StringDecoder } from 'node:string_decoder';
import { readEvent, SseSplitter } from '../../proxy/sse.ts';

/** The splitter before the WHATWG rules: LF/CRLF only, one regex scan per boundary. */
class LfOnlySplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  push(chunk: Buffer): string[] {
    this.pending += this.decoder.write(chunk);
    const events: string[] = [];
    const boundary = /\r?\n\r?\n/;
    let m: RegExpExecArray | null;
    while ((m = boundary.exec(this.pending)) !== null) {
      const raw = this.pending.slice(0, m.index);
      this.pending = this.pending.slice(m.index + m[0].length);
      if (raw.length > 0) events.push(raw);
    }
    return events;
  }
}

function lfOnlyParse(raw: string): { event: string | undefined; data: string } {
  let event: string | undefined;
  let data: string | undefined;
  for (const line of raw.split(/\r?\n/)) {
    if (line.startsWith('data:')) {
      const v = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      data = data === undefined ? v : `${data}\n${v}`;
    } else if (line.startsWith('event:')) event = line.charCodeAt(6) === 32 ? line.slice(7) : line.slice(6);
  }
  return { event, data: data ?? '' };
}

const words = Array.from({ length: 2000 }, (_, i) => `word${i}`);
const event = (w: string) => `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: ` ${w}` }, finish_reason: null }] })}\n\n`;
const events = words.map(event);

function chunksOf(perChunk: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < events.length; i += perChunk) out.push(Buffer.from(events.slice(i, i + perChunk).join('')));
  return out;
}

type Runner = (chunks: Buffer[]) => number;

const runners: Record<string, Runner> = {
  'lf-only (before)': (chunks) => {
    const s = new LfOnlySplitter();
    let n = 0;
    for (const c of chunks) for (const raw of s.push(c)) n += lfOnlyParse(raw).data.length > 0 ? 1 : 0;
    return n;
  },
  'whatwg (proxy/sse.ts)': (chunks) => {
    const s = new SseSplitter();
    let n = 0;
    for (const c of chunks) for (const raw of s.push(c)) n += readEvent(raw) ? 1 : 0;
    return n;
  },
  'eventsource-parser': (chunks) => {
    let n = 0;
    const p = createParser({ onEvent: () => n++ });
    const d = new StringDecoder('utf8');
    for (const c of chunks) p.feed(d.write(c));
    return n;
  },
};

for (const perChunk of [1, 16]) {
  const chunks = chunksOf(perChunk);
  for (const [name, run] of Object.entries(runners)) {
    for (let i = 0; i < 50; i++) run(chunks); // warm-up
    const rounds = 300;
    const t0 = process.hrtime.bigint();
    let n = 0;
    for (let i = 0; i < rounds; i++) n = run(chunks);
    const ns = Number(process.hrtime.bigint() - t0) / rounds / events.length;
    if (n !== events.length) throw new Error(`${name}: ${n} events, expected ${events.length}`);
    console.log(`${String(perChunk).padStart(2)} event(s)/chunk  ${name.padEnd(24)} ${ns.toFixed(0).padStart(6)} ns/event`);
  }
}
