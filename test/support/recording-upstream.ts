// A provider stand-in that records every request exactly as it arrived: the raw request line
// (method and target as sent), the Host header and every credential header. The adversarial suite
// reads it to prove where keys went; it answers just enough of both APIs for the sidecar to serve.
//   POST …/chat/completions → a chat completion (model "fail-500": a 500; model "echo-key": a 401
//   whose body and `x-echo-key` header repeat the credential it received)
//   POST …/messages        → an Anthropic message
//   any path with /echo-key → a 401 echoing the credential, as above
//   anything else          → 200 {"object":"list","data":[]}
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  requestLine: string;
  method: string;
  target: string;
  host: string | undefined;
  credentials: { authorization?: string; 'x-api-key'?: string; 'api-key'?: string };
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RecordingUpstream {
  url: string;
  host: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

function credentialOf(req: IncomingMessage): string {
  const c = req.headers.authorization ?? req.headers['x-api-key'] ?? req.headers['api-key'] ?? '';
  return Array.isArray(c) ? c.join(',') : c;
}

export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const target = req.url ?? '';
      requests.push({
        requestLine: `${req.method} ${target} HTTP/${req.httpVersion}`,
        method: req.method ?? '',
        target,
        host: req.headers.host,
        credentials: {
          authorization: req.headers.authorization,
          'x-api-key': req.headers['x-api-key'] as string | undefined,
          'api-key': req.headers['api-key'] as string | undefined,
        },
        headers: { ...req.headers },
        body,
      });
      let model = '';
      try {
        model = String((JSON.parse(body) as { model?: unknown }).model ?? '');
      } catch {
        // not JSON: a pass-through body
      }
      const send = (status: number, value: unknown, headers: Record<string, string> = {}): void => {
        const text = JSON.stringify(value);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
        res.end(text);
      };
      if (target.includes('/echo-key') || model === 'echo-key') {
        const cred = credentialOf(req);
        send(401, { error: { message: `Incorrect API key provided: ${cred}`, type: 'invalid_request_error', code: 'invalid_api_key' } }, { 'x-echo-key': cred });
      } else if (model === 'fail-500') {
        send(500, { error: { message: 'upstream failure', type: 'server_error' } });
      } else if (target.includes('/chat/completions')) {
        send(200, {
          id: 'chatcmpl-rec',
          object: 'chat.completion',
          created: 1,
          model: model || 'gpt-4o-mini',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
        });
      } else if (target.includes('/messages')) {
        send(200, {
          id: 'msg_rec',
          type: 'message',
          role: 'assistant',
          model: model || 'claude-haiku-4-5',
          content: [{ type: 'text', text: 'ok' }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: 3, output_tokens: 1 },
        });
      } else {
        send(200, { object: 'list', data: [] });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
