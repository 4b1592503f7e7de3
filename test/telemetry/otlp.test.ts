// OTLP/HTTP export to a collector: spans of a proxied call arrive at a local OTLP receiver.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from '../stack.ts';

interface OtlpAttr {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpSpan {
  name: string;
  kind: number;
  traceId: string;
  attributes: OtlpAttr[];
}

let receiver: Server;
const received: { resource: OtlpAttr[]; spans: OtlpSpan[] }[] = [];
let stack: Stack;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { resourceSpans: { resource: { attributes: OtlpAttr[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of body.resourceSpans) received.push({ resource: rs.resource.attributes, spans: rs.scopeSpans.flatMap((s) => s.spans) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const port = (receiver.address() as AddressInfo).port;
  stack = await startStack((url) => ({
    providers: { openai: { type: 'openai', baseUrl: `${url}/v1` } },
    telemetry: { serviceName: 'checkout-api', clickhouse: { mode: 'off' }, otlp: { endpoint: `http://127.0.0.1:${port}/v1/traces` } },
  }));
});

afterAll(async () => {
  await stack?.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});

it('exports the span tree over OTLP/HTTP with the app’s service name', async () => {
  const client = new OpenAI({ baseURL: `${stack.sidecar.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  const { data } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'otlp please' }] }).withResponse();
  // Closing the sidecar flushes the batch processor.
  await stack.close();
  const spans = received.flatMap((r) => r.spans);
  const op = spans.find((s) => s.name === 'chat gpt-4o-mini');
  expect(op).toBeDefined();
  const attr = (s: OtlpSpan, k: string) => s.attributes.find((a) => a.key === k)?.value;
  expect(attr(op!, 'gen_ai.usage.input_tokens')).toEqual({ intValue: data.usage!.prompt_tokens });
  expect(spans.filter((s) => s.traceId === op!.traceId)).toHaveLength(3);
  expect(received[0]!.resource.find((a) => a.key === 'service.name')?.value).toEqual({ stringValue: 'checkout-api' });
});
