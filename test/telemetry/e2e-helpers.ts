// Shared by the end-to-end storage tests: a mixed batch of calls through the proxy, and the
// totals the proxy measured for them (what the fake provider reported, normalised).
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { formatPicoUsd, parsePicoUsd } from '../../shared/pricing/cost.ts';
import type { CallRecord } from '../../proxy/call-record.ts';

export async function mixedTraffic(baseUrl: string, rounds: number): Promise<number> {
  const openai = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  const anthropic = new Anthropic({ baseURL: baseUrl, apiKey: 'sk-ant-test', maxRetries: 0 });
  let n = 0;
  for (let i = 0; i < rounds; i++) {
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${i}` }] });
    for await (const _ of await openai.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: `stream ${i}` }] })) {
      // drain
    }
    await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: `anthropic ${i}` }] });
    await anthropic.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 50, messages: [{ role: 'user', content: `anthropic stream ${i}` }] }).finalMessage();
    await openai.embeddings.create({ model: 'text-embedding-3-small', input: [`embed ${i}`] });
    await openai.chat.completions.create({ model: 'gpt-4o-fake-error-500', messages: [{ role: 'user', content: 'fail' }] }).catch(() => undefined);
    n += 6;
  }
  return n;
}

export function totals(calls: CallRecord[]): { calls: number; input: number; output: number; cacheRead: number; cost: string } {
  let cost = 0n;
  for (const c of calls) if (c.costUsd !== undefined) cost += parsePicoUsd(c.costUsd);
  return {
    calls: calls.length,
    input: calls.reduce((a, c) => a + (c.usage?.inputTokens ?? 0), 0),
    output: calls.reduce((a, c) => a + (c.usage?.outputTokens ?? 0), 0),
    cacheRead: calls.reduce((a, c) => a + (c.usage?.cacheReadTokens ?? 0), 0),
    cost: formatPicoUsd(cost),
  };
}

/** The same totals as ClickHouse computes them from llm_calls. */
export const TOTALS_SQL = (db: string) =>
  `SELECT count() AS calls, sum(InputTokens) AS input, sum(OutputTokens) AS output, sum(CacheReadTokens) AS cacheRead, toString(sum(ifNull(CostUsd, 0))) AS cost FROM ${db}.llm_calls`;

export function normaliseRow(r: Record<string, unknown>): { calls: number; input: number; output: number; cacheRead: number; cost: string } {
  return { calls: Number(r.calls), input: Number(r.input), output: Number(r.output), cacheRead: Number(r.cacheRead), cost: formatPicoUsd(parsePicoUsd(String(r.cost))) };
}
