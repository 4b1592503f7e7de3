import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine } from '../../proxy/cache/embedder.ts';
import { OpenAIEmbedder } from '../../proxy/cache/openai-embedder.ts';
import { embed as fakeEmbed } from '../../simulator/embeddings.ts';
import { startFakeProvider, type FakeProvider } from '../../simulator/server.ts';

let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(async () => {
  await fake?.close();
});

describe('OpenAIEmbedder', () => {
  it('embeds through any OpenAI-compatible /v1/embeddings (base64 float32), in order and in batches', async () => {
    const e = new OpenAIEmbedder({ baseUrl: `${fake.url}/v1/`, model: 'text-embedding-3-small', apiKey: 'sk-test', dimensions: 64, maxBatch: 3 });
    const texts = ['a', 'b', 'c', 'd', 'e'];
    const vs = await e.embed(texts);
    expect(vs).toHaveLength(5);
    expect(e.dims).toBe(64);
    vs.forEach((v, i) => expect(cosine(v, fakeEmbed(texts[i] as string, 64))).toBeCloseTo(1, 5));
    const sent = fake.requests.filter((r) => r.path === '/v1/embeddings');
    expect(sent).toHaveLength(2);
    expect(sent[0]?.headers.authorization).toBe('Bearer sk-test');
    expect(sent[0]?.json).toMatchObject({ model: 'text-embedding-3-small', input: ['a', 'b', 'c'], encoding_format: 'base64', dimensions: 64 });
  });

  it('learns the size from the first answer; errors and slow endpoints reject', async () => {
    const e = new OpenAIEmbedder({ baseUrl: `${fake.url}/v1`, model: 'm' });
    expect(e.dims).toBe(0);
    await e.embed(['x']);
    expect(e.dims).toBe(8);
    const failing = new OpenAIEmbedder({ baseUrl: `${fake.url}/v1`, model: 'm', headers: { 'x-fake-fault': 'status=500' } });
    await expect(failing.embed(['x'])).rejects.toThrow(/500/);
    const slow = new OpenAIEmbedder({ baseUrl: `${fake.url}/v1`, model: 'm', timeoutMs: 100, headers: { 'x-fake-fault': 'delay=2000' } });
    const abortedBefore = fake.stats.aborted;
    await expect(slow.embed(['x'])).rejects.toThrow(/timeout|timed out|aborted/i);
    // Its own timer ended the call: it hung up before the provider's answer (2 s later) was sent.
    await expect.poll(() => fake.stats.aborted).toBe(abortedBefore + 1);
  });
});
