// A tiny OpenAI-shaped upstream whose behaviour the test scripts per model name and flips at run
// time (the shared fake provider's faults are per request, so they cannot "fail twice, then
// recover"). Counts the requests it receives per model.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour = { kind: 'ok'; content?: string } | { kind: 'status'; status: number; headers?: Record<string, string> } | { kind: 'stall' };

export interface ScriptedUpstream {
  url: string;
  behaviour: Map<string, Behaviour>;
  hits: Map<string, number>;
  close(): Promise<void>;
}

export async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  const behaviour = new Map<string, Behaviour>();
  const hits = new Map<string, number>();
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { model: string; stream?: boolean };
      hits.set(body.model, (hits.get(body.model) ?? 0) + 1);
      const b = behaviour.get(body.model) ?? { kind: 'ok' };
      if (b.kind === 'stall') return; // never answers; the sidecar's timeout must act
      if (b.kind === 'status') {
        res.writeHead(b.status, { 'content-type': 'application/json', ...b.headers });
        res.end(JSON.stringify({ error: { message: `scripted ${b.status}`, type: 'server_error', param: null, code: null } }));
        return;
      }
      const content = b.content ?? `answer from ${body.model}`;
      const id = `chatcmpl-s${++n}`;
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = (delta: object, finish: string | null, extra: object = {}) =>
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
        res.write(chunk({ role: 'assistant', content: '' }, null));
        res.write(chunk({ content }, null));
        res.write(chunk({}, 'stop'));
        res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [], usage })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, object: 'chat.completion', created: 1, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }], usage }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    behaviour,
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
