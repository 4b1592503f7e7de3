// A tiny OpenAI-shaped judge upstream whose answers the test chooses: `respond` sees each request
// (its JSON body, the rendered rubric, the answer under evaluation, a running count) and returns
// the judge's reply — a JSON verdict, raw content, or an HTTP error with headers. The shared fake
// provider answers schema-shaped placeholders; scores that depend on the call need this.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface JudgeRequest {
  n: number;
  headers: IncomingHttpHeaders;
  body: { model: string; temperature?: number; messages: { role: string; content: string }[]; response_format?: { type: string; json_schema?: { name: string; schema: Record<string, unknown> } } };
  /** The user message (the rendered rubric with the call's data). */
  prompt: string;
  /** Text between <answer> and </answer> in the prompt. */
  answer: string;
  receivedAt: number;
}

export type JudgeReply =
  | { json: Record<string, unknown>; usage?: { prompt_tokens: number; completion_tokens: number } }
  | { content: string; usage?: { prompt_tokens: number; completion_tokens: number } }
  | { status: number; headers?: Record<string, string>; delayMs?: number };

export interface ScriptedJudge {
  /** Base URL for the OpenAI SDK (ends in /v1). */
  url: string;
  requests: JudgeRequest[];
  respond: (req: JudgeRequest) => JudgeReply | Promise<JudgeReply>;
  close(): Promise<void>;
}

export async function startScriptedJudge(respond: ScriptedJudge['respond']): Promise<ScriptedJudge> {
  const judge: ScriptedJudge = { url: '', requests: [], respond, close: async () => undefined };
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as JudgeRequest['body'];
        const prompt = body.messages.find((m) => m.role === 'user')?.content ?? '';
        const answer = /<answer>\n?([\s\S]*?)\n?<\/answer>/.exec(prompt)?.[1] ?? '';
        const request: JudgeRequest = { n: ++n, headers: req.headers, body, prompt, answer, receivedAt: Date.now() };
        judge.requests.push(request);
        const reply = await judge.respond(request);
        if ('status' in reply) {
          if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
          if (res.destroyed) return;
          res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
          res.end(JSON.stringify({ error: { message: `scripted ${reply.status}`, type: 'server_error', param: null, code: null } }));
          return;
        }
        const content = 'json' in reply ? JSON.stringify(reply.json) : reply.content;
        const usage = reply.usage ?? { prompt_tokens: 1000, completion_tokens: 100 };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: `chatcmpl-judge-${n}`,
            object: 'chat.completion',
            created: 1,
            model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
            usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
          }),
        );
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  judge.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  judge.close = () => {
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r()));
  };
  return judge;
}

/** A verdict for the usual 1–5 scale rubric. */
export const score = (s: number, explanation = 'scripted'): JudgeReply => ({ json: { explanation, score: s } });
