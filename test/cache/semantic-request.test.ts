import { describe, expect, it } from 'vitest';
import { cacheScope, type CacheKeyInput } from '../../proxy/cache/cache-key.ts';
import { semanticRequest } from '../../proxy/cache/semantic-request.ts';

const chat = (last: unknown, patch: Partial<CacheKeyInput> = {}, body: Record<string, unknown> = {}): CacheKeyInput => ({
  scope: cacheScope({ tenant: 't' }),
  dialect: 'openai',
  operation: 'chat',
  provider: 'p',
  model: 'm',
  body: { model: 'm', messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'earlier' }, { role: 'assistant', content: 'reply' }, { role: 'user', content: last }], ...body },
  ...patch,
});

describe('semanticRequest', () => {
  it('same context, different last question: same partition, and the text is the last user turn', () => {
    const a = semanticRequest(chat('How do I reset my password?'));
    const b = semanticRequest(chat([{ type: 'text', text: 'How can I reset my password?' }]));
    expect(a?.lastUserText).toBe('How do I reset my password?');
    expect(b?.lastUserText).toBe('How can I reset my password?');
    expect(a?.contextDigest).toBe(b?.contextDigest);
    // stream / user do not change the context either.
    expect(semanticRequest(chat('q', {}, { stream: true, user: 'x' }))?.contextDigest).toBe(a?.contextDigest);
  });

  it('anything else in the request changes the partition', () => {
    const d = (r: CacheKeyInput): string | undefined => semanticRequest(r)?.contextDigest;
    const base = d(chat('q'));
    const others = [
      d(chat('q', { scope: cacheScope({ tenant: 'other' }) })),
      d(chat('q', { scope: cacheScope({ tenant: 't', apiKeyHash: 'k' }) })),
      d(chat('q', { model: 'm2' })),
      d(chat('q', { provider: 'p2' })),
      d(chat('q', { dialect: 'anthropic' })),
      d(chat('q', {}, { temperature: 0.5 })),
      d(chat('q', {}, { tools: [{ type: 'function', function: { name: 'f' } }] })),
      d(chat('q', {}, { response_format: { type: 'json_object' } })),
      d(chat('q', {}, { messages: [{ role: 'system', content: 'S2' }, { role: 'user', content: 'q' }] })),
      d(chat('q', {}, { messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'other earlier' }, { role: 'assistant', content: 'reply' }, { role: 'user', content: 'q' }] })),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
  });

  it('only text user turns of chat/responses are eligible', () => {
    expect(semanticRequest(chat([{ type: 'image_url', image_url: { url: 'data:' } }]))).toBeUndefined();
    expect(semanticRequest(chat([{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'x' } }]))).toBeUndefined();
    expect(semanticRequest(chat('x'.repeat(3000)))).toBeUndefined();
    expect(semanticRequest(chat('   '))).toBeUndefined();
    expect(semanticRequest(chat('q', {}, { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'prefill' }] }))).toBeUndefined();
    expect(semanticRequest(chat('q', { operation: 'embeddings' }, { input: 'q' }))).toBeUndefined();
    const anthropicToolResult = chat([{ type: 'tool_result', tool_use_id: 't', content: 'r' }], { dialect: 'anthropic' });
    expect(semanticRequest(anthropicToolResult)).toBeUndefined();
    const responses: CacheKeyInput = { scope: 's', dialect: 'openai', operation: 'responses', provider: 'p', model: 'm', body: { model: 'm', input: 'What is HTTP?', instructions: 'I' } };
    expect(semanticRequest(responses)?.lastUserText).toBe('What is HTTP?');
    const responsesItems: CacheKeyInput = { ...responses, body: { model: 'm', input: [{ role: 'user', content: [{ type: 'input_text', text: 'What is HTTP?' }] }], instructions: 'I' } };
    expect(semanticRequest(responsesItems)?.lastUserText).toBe('What is HTTP?');
  });
});
