import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, jsonEntry, streamEntry } from '../../proxy/cache/entry.ts';
import { StreamRecorder } from '../../proxy/cache/stream-recorder.ts';
import { ZERO_USAGE } from '../../shared/usage.ts';

const usage = { ...ZERO_USAGE, inputTokens: 10, outputTokens: 3 };

describe('entry encoding', () => {
  it('round-trips', () => {
    const e = jsonEntry({ dialect: 'openai', operation: 'chat', model: 'gpt-4o', provider: 'openai', usage, costUsd: '0.000123', ttlMs: 1000, now: 5, body: '{"id":"x"}' });
    expect(e).toMatchObject({ v: 1, kind: 'json', status: 200, contentType: 'application/json', createdAt: 5, expiresAt: 1005 });
    expect(decodeEntry(encodeEntry(e))).toEqual(e);
    expect(decodeEntry(Buffer.from(encodeEntry(e)))).toEqual(e);
    const s = streamEntry({ dialect: 'anthropic', operation: 'chat', model: 'claude', usage, ttlMs: 1, events: [{ event: 'message_stop', data: '{}' }] });
    expect(decodeEntry(encodeEntry(s))).toEqual(s);
  });

  it('anything corrupt, foreign or of another version is a miss, never a throw', () => {
    const good = JSON.parse(encodeEntry(jsonEntry({ dialect: 'openai', operation: 'chat', model: 'm', usage, ttlMs: 1, body: '{}' }))) as Record<string, unknown>;
    const bad: unknown[] = [
      null,
      undefined,
      '',
      'not json',
      '{"v":1',
      '[]',
      '42',
      JSON.stringify({ ...good, v: 2 }),
      JSON.stringify({ ...good, kind: 'json', body: undefined }),
      JSON.stringify({ ...good, kind: 'stream', events: [] }),
      JSON.stringify({ ...good, usage: { inputTokens: -1 } }),
      JSON.stringify({ ...good, status: 500 }),
      JSON.stringify({ ...good, costUsd: 'NaN' }),
      JSON.stringify({ ...good, dialect: 'gemini' }),
    ];
    for (const b of bad) expect(decodeEntry(b as string)).toBeUndefined();
  });
});

describe('StreamRecorder', () => {
  it('keeps the events of a stream that ended properly, in order', () => {
    const r = new StreamRecorder('openai', 'chat');
    r.push(undefined, '{"choices":[]}');
    expect(r.finish()).toBeUndefined();
    r.push(undefined, '[DONE]');
    expect(r.finish()).toEqual([{ data: '{"choices":[]}' }, { data: '[DONE]' }]);
    const a = new StreamRecorder('anthropic', 'chat');
    a.push('message_start', '{}');
    a.push('ping', '{}');
    a.push('message_stop', '{}');
    expect(a.finish()?.map((e) => e.event)).toEqual(['message_start', 'ping', 'message_stop']);
    const resp = new StreamRecorder('openai', 'responses');
    resp.push('response.completed', '{}');
    expect(resp.complete).toBe(true);
  });

  it('a cut stream, an error event or an oversized stream is never cached', () => {
    const cut = new StreamRecorder('anthropic', 'chat');
    cut.push('message_start', '{}');
    cut.abandon();
    expect(cut.finish()).toBeUndefined();
    const err = new StreamRecorder('anthropic', 'chat');
    err.push('error', '{"type":"error"}');
    err.push('message_stop', '{}');
    expect(err.finish()).toBeUndefined();
    const oaErr = new StreamRecorder('openai', 'chat');
    oaErr.push(undefined, '{"error":{"message":"boom"}}');
    oaErr.push(undefined, '[DONE]');
    expect(oaErr.finish()).toBeUndefined();
    const big = new StreamRecorder('openai', 'chat', 100);
    big.push(undefined, 'x'.repeat(200));
    big.push(undefined, '[DONE]');
    expect(big.finish()).toBeUndefined();
    const after = new StreamRecorder('openai', 'chat');
    after.push(undefined, '[DONE]');
    after.push(undefined, '{}');
    expect(after.finish()).toBeUndefined();
  });
});
