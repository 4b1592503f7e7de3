// The key-safety suite (docs/security.md): hostile request shapes written as raw bytes on a socket
// to the traffic port, with recording upstreams behind the sidecar. One table, one invariant per
// row: no upstream request outside a configured origin and base path, no credential to a provider
// it was not meant for, the sidecar answers a 4xx or forwards a normalised request, and it keeps
// serving afterwards.
import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.ts';
import { startSidecar, type RunningSidecar } from '../../proxy/main.ts';
import { startRecordingUpstream, type RecordedRequest, type RecordingUpstream } from '../support/recording-upstream.ts';

const APP_OA = 'sk-app-openai-AAAAAAAAAAAAAAAAAAAA';
const APP_AN = 'sk-ant-app-BBBBBBBBBBBBBBBBBBBBBB';
const KEY_AN = 'sk-ant-configured-CCCCCCCCCCCCCCCCCC';
const KEY_GW = 'sk-gw-configured-DDDDDDDDDDDDDDDDDDDD';

let oa: RecordingUpstream; // the OpenAI-type provider the app addresses (keyless: the app's key goes there)
let an: RecordingUpstream; // an Anthropic-type provider with its own key (fallback target)
let gw: RecordingUpstream; // a second OpenAI-compatible gateway with its own key
let decoy: RecordingUpstream; // a host no config names: it must never see a request
let sidecar: RunningSidecar;
let port: number;

beforeAll(async () => {
  [oa, an, gw, decoy] = await Promise.all([startRecordingUpstream(), startRecordingUpstream(), startRecordingUpstream(), startRecordingUpstream()]);
  const config = parseConfig({
    listen: { host: '127.0.0.1', port: 0, bodyTimeoutMs: 5_000 },
    admin: { host: '127.0.0.1', port: 0 },
    telemetry: { clickhouse: { mode: 'off' } },
    providers: {
      openai: { type: 'openai', baseUrl: `${oa.url}/tenant-a/v1` },
      anthropic: { type: 'anthropic', baseUrl: `${an.url}/anth`, apiKey: KEY_AN },
      gateway: { type: 'openai', baseUrl: `${gw.url}/gw/v1`, apiKey: KEY_GW },
    },
    routes: {
      fb: { targets: [{ provider: 'openai' }, { provider: 'gateway' }, { provider: 'anthropic', model: 'claude-haiku-4-5' }], retry: { maxRetries: 0 } },
      keyed: { targets: [{ provider: 'gateway' }] },
    },
  });
  sidecar = await startSidecar(config, {});
  port = sidecar.proxyAddress.port;
});

afterAll(async () => {
  await sidecar?.close(500);
  await Promise.all([oa, an, gw, decoy].map((u) => u?.close()));
});

/** Writes raw bytes and reads one response (status line, headers, content-length body) or until close. */
function raw(bytes: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buf = '';
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      const end = buf.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 0, head: end === -1 ? buf : buf.slice(0, end), body: end === -1 ? '' : buf.slice(end + 4) });
    };
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      buf += d;
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const len = /\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, end));
      if (len && buf.length >= end + 4 + Number(len[1])) finish();
    });
    socket.on('close', finish);
    socket.on('error', (err) => (buf === '' ? reject(err) : finish()));
    socket.write(bytes, 'latin1');
  });
}

const H = (extra = ''): string => `Host: 127.0.0.1\r\nAuthorization: Bearer ${APP_OA}\r\nConnection: close\r\n${extra}`;
const chat = (model = 'gpt-4o-mini'): string => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });
const post = (target: string, body: string, extra = ''): string => `POST ${target} HTTP/1.1\r\n${H(extra)}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const get = (target: string, extra = ''): string => `GET ${target} HTTP/1.1\r\n${H(extra)}\r\n`;

const anthropicPost = (extra: string): string => {
  const body = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  return `POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: ${APP_AN}\r\nanthropic-version: 2023-06-01\r\nConnection: close\r\n${extra}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
};

type Expect = 'refused' | 'forwarded' | 'either';
interface Shape {
  name: string;
  bytes: () => string;
  expect: Expect;
  /** Extra checks on what the upstreams saw. */
  check?: (seen: { oa: RecordedRequest[]; an: RecordedRequest[]; gw: RecordedRequest[] }, res: { status: number; head: string; body: string }) => void;
}

const decoyTarget = (): string => decoy.url;

const SHAPES: Shape[] = [
  // Request targets (RFC 9112 §3.2): only origin-form is served.
  { name: 'absolute-form to another host', bytes: () => get('http://other.example/v1/models'), expect: 'refused' },
  { name: 'absolute-form to a listening host', bytes: () => get(`${decoyTarget()}/v1/models`), expect: 'refused' },
  { name: 'absolute-form https', bytes: () => get(`https://${decoy.host}/v1/models`), expect: 'refused' },
  { name: 'absolute-form LLM path', bytes: () => post(`${decoyTarget()}/v1/chat/completions`, chat()), expect: 'refused' },
  { name: 'absolute-form HTTP/1.0', bytes: () => `GET ${decoyTarget()}/v1/models HTTP/1.0\r\nAuthorization: Bearer ${APP_OA}\r\n\r\n`, expect: 'refused' },
  { name: 'network-path //host', bytes: () => get(`//${decoy.host}/v1/models`), expect: 'refused' },
  { name: 'network-path //host LLM', bytes: () => post(`//${decoy.host}/v1/chat/completions`, chat()), expect: 'refused' },
  { name: 'authority-form CONNECT', bytes: () => `CONNECT ${decoy.host} HTTP/1.1\r\nHost: ${decoy.host}\r\nAuthorization: Bearer ${APP_OA}\r\n\r\n`, expect: 'refused' },
  { name: 'asterisk-form OPTIONS', bytes: () => `OPTIONS * HTTP/1.1\r\n${H()}\r\n`, expect: 'refused' },
  { name: 'asterisk-form GET', bytes: () => `GET * HTTP/1.1\r\n${H()}\r\n`, expect: 'refused' },
  { name: 'relative target without slash', bytes: () => get('v1/models'), expect: 'refused' },
  { name: 'userinfo-like target', bytes: () => get(`@${decoy.host}/v1/models`), expect: 'refused' },
  // Dot-segments and separators, raw and encoded.
  { name: 'raw ../', bytes: () => get('/v1/../../admin'), expect: 'refused' },
  { name: 'raw ./', bytes: () => get('/v1/./models'), expect: 'refused' },
  { name: 'trailing /..', bytes: () => get('/v1/models/..'), expect: 'refused' },
  { name: 'trailing /.', bytes: () => get('/v1/models/.'), expect: 'refused' },
  { name: '%2e%2e', bytes: () => get('/v1/%2e%2e/%2e%2e/admin'), expect: 'refused' },
  { name: '%2E%2E upper', bytes: () => get('/v1/%2E%2E/admin'), expect: 'refused' },
  { name: '.%2e mixed', bytes: () => get('/v1/.%2e/admin'), expect: 'refused' },
  { name: '%2e. mixed', bytes: () => get('/v1/%2e./admin'), expect: 'refused' },
  { name: '%2e single', bytes: () => get('/v1/%2e/models'), expect: 'refused' },
  { name: 'encoded slash %2f', bytes: () => get('/v1/..%2fadmin'), expect: 'refused' },
  { name: 'encoded slash %2F', bytes: () => get('/v1/models%2F..%2F..%2Fadmin'), expect: 'refused' },
  { name: 'encoded backslash', bytes: () => get('/v1/..%5cadmin'), expect: 'refused' },
  { name: 'raw backslash', bytes: () => get('/v1/..\\admin'), expect: 'refused' },
  { name: 'encoded NUL', bytes: () => get('/v1/models%00'), expect: 'refused' },
  { name: 'encoded CRLF (header injection)', bytes: () => get('/v1/models%0d%0aX-Injected:%201'), expect: 'refused' },
  { name: 'broken escape', bytes: () => get('/v1/mod%zzels'), expect: 'refused' },
  { name: 'truncated escape', bytes: () => get('/v1/models%2'), expect: 'refused' },
  { name: 'fragment', bytes: () => get('/v1/models#x'), expect: 'refused' },
  { name: 'LLM path with dot-segment', bytes: () => post('/v1/x/../chat/completions', chat()), expect: 'refused' },
  { name: 'non-ASCII byte', bytes: () => get('/v1/mod\u00e9ls'), expect: 'refused' },
  {
    name: 'double-encoded dots stay literal',
    bytes: () => get('/v1/%252e%252e/admin'),
    expect: 'forwarded',
    check: (s) => expect(s.oa.at(-1)?.target).toBe('/tenant-a/v1/%252e%252e/admin'),
  },
  {
    name: 'encoded unreserved is decoded',
    bytes: () => get('/v1/%6dodels'),
    expect: 'forwarded',
    check: (s) => expect(s.oa.at(-1)?.target).toBe('/tenant-a/v1/models'),
  },
  {
    name: 'dots in the query are not a path',
    bytes: () => get('/v1/models?next=../../admin'),
    expect: 'forwarded',
    check: (s) => expect(s.oa.at(-1)?.target).toBe('/tenant-a/v1/models?next=../../admin'),
  },
  { name: 'dotted name is not a dot-segment', bytes: () => get('/v1/files/a..b'), expect: 'forwarded', check: (s) => expect(s.oa.at(-1)?.target).toBe('/tenant-a/v1/files/a..b') },
  // Methods.
  { name: 'TRACE', bytes: () => `TRACE /v1/models HTTP/1.1\r\n${H()}\r\n`, expect: 'refused', check: (_s, res) => expect(res.body).not.toContain(APP_OA) },
  { name: 'PUT', bytes: () => `PUT /v1/files HTTP/1.1\r\n${H()}Content-Length: 2\r\n\r\n{}`, expect: 'refused' },
  { name: 'PATCH', bytes: () => `PATCH /v1/files HTTP/1.1\r\n${H()}Content-Length: 2\r\n\r\n{}`, expect: 'refused' },
  { name: 'OPTIONS', bytes: () => `OPTIONS /v1/models HTTP/1.1\r\n${H()}\r\n`, expect: 'refused' },
  { name: 'HEAD', bytes: () => `HEAD /v1/models HTTP/1.1\r\n${H()}\r\n`, expect: 'refused' },
  { name: 'PROPFIND', bytes: () => `PROPFIND /v1/models HTTP/1.1\r\n${H()}\r\n`, expect: 'refused' },
  { name: 'lower-case method', bytes: () => `get /v1/models HTTP/1.1\r\n${H()}\r\n`, expect: 'refused' },
  {
    name: 'method override header is dropped',
    bytes: () => get('/v1/models', 'X-HTTP-Method-Override: TRACE\r\nX-HTTP-Method: DELETE\r\n'),
    expect: 'forwarded',
    check: (s) => {
      expect(s.oa.at(-1)?.method).toBe('GET');
      expect(s.oa.at(-1)?.headers['x-http-method-override']).toBeUndefined();
      expect(s.oa.at(-1)?.headers['x-http-method']).toBeUndefined();
    },
  },
  // Host and front-end routing headers.
  { name: 'Host of another site', bytes: () => `GET /v1/models HTTP/1.1\r\nHost: ${decoy.host}\r\nAuthorization: Bearer ${APP_OA}\r\nConnection: close\r\n\r\n`, expect: 'forwarded' },
  {
    name: 'forwarding headers are dropped',
    bytes: () => post('/v1/chat/completions', chat(), `X-Forwarded-Host: ${decoy.host}\r\nForwarded: host=${decoy.host}\r\nX-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\n`),
    expect: 'forwarded',
    check: (s) => {
      const h = s.oa.at(-1)?.headers ?? {};
      for (const n of ['x-forwarded-host', 'forwarded', 'x-original-url', 'x-rewrite-url']) expect(h[n]).toBeUndefined();
    },
  },
  { name: 'Proxy-Authorization is not forwarded', bytes: () => get('/v1/models', 'Proxy-Authorization: Basic c2VjcmV0\r\n'), expect: 'forwarded', check: (s) => expect(s.oa.at(-1)?.headers['proxy-authorization']).toBeUndefined() },
  // The sidecar's own headers: duplicated, mixed case, padded, hostile values.
  { name: 'duplicated route header', bytes: () => get('/v1/models', 'x-llm-sidecar-route: fb\r\nx-llm-sidecar-route: keyed\r\n'), expect: 'refused' },
  { name: 'mixed-case route header', bytes: () => post('/v1/chat/completions', chat(), 'X-LLM-Sidecar-Route: keyed\r\n'), expect: 'forwarded', check: (s) => expect(s.gw.at(-1)?.credentials.authorization).toBe(`Bearer ${KEY_GW}`) },
  { name: 'padded route header', bytes: () => post('/v1/chat/completions', chat(), 'x-llm-sidecar-route:    keyed   \r\n'), expect: 'forwarded' },
  { name: 'route header with a path', bytes: () => get('/v1/models', 'x-llm-sidecar-route: ../../keyed\r\n'), expect: 'refused' },
  { name: 'whitespace before colon', bytes: () => get('/v1/models', 'x-llm-sidecar-route : keyed\r\n'), expect: 'refused' },
  { name: 'sidecar path is never forwarded', bytes: () => get('/llm-sidecar/v1/anything'), expect: 'refused' },
  // Credentials follow the provider.
  {
    name: 'Anthropic request on a route whose first target is OpenAI',
    bytes: () => anthropicPost('x-llm-sidecar-route: fb\r\n'),
    expect: 'forwarded',
    check: (s) => {
      expect(s.oa).toHaveLength(0);
      expect(s.gw.at(-1)?.credentials.authorization).toBe(`Bearer ${KEY_GW}`);
    },
  },
  {
    name: 'fallback across providers carries each its own key',
    bytes: () => post('/v1/chat/completions', chat('fail-500'), 'x-llm-sidecar-route: fb\r\n'),
    expect: 'either',
    check: (s) => {
      expect(s.oa.at(-1)?.credentials.authorization).toBe(`Bearer ${APP_OA}`);
      expect(s.gw.at(-1)?.credentials.authorization).toBe(`Bearer ${KEY_GW}`);
      expect(s.an.at(-1)?.credentials['x-api-key']).toBe(KEY_AN);
    },
  },
  {
    name: 'Anthropic app key to the default Anthropic provider is replaced',
    bytes: () => anthropicPost(`Authorization: Bearer ${APP_OA}\r\n`),
    expect: 'forwarded',
    check: (s) => expect(s.an.at(-1)?.credentials).toEqual({ 'x-api-key': KEY_AN, authorization: undefined, 'api-key': undefined }),
  },
  {
    name: 'Connection header naming the credential',
    bytes: () => get('/v1/models', 'x-llm-sidecar-route: keyed\r\nConnection: close, authorization\r\n').replace('Connection: close\r\n', ''),
    expect: 'forwarded',
    check: (s) => expect(s.gw.at(-1)?.credentials.authorization).toBe(`Bearer ${KEY_GW}`),
  },
  // Framing: CRLF, smuggling shapes, oversized headers.
  { name: 'CL and TE together', bytes: () => `POST /v1/files HTTP/1.1\r\n${H()}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, expect: 'refused' },
  { name: 'two different Content-Lengths', bytes: () => `POST /v1/files HTTP/1.1\r\n${H()}Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}`, expect: 'refused' },
  { name: 'obfuscated Transfer-Encoding', bytes: () => `POST /v1/files HTTP/1.1\r\n${H()}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, expect: 'refused' },
  { name: 'TE with a space before colon', bytes: () => `POST /v1/files HTTP/1.1\r\n${H()}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, expect: 'refused' },
  { name: 'negative Content-Length', bytes: () => `POST /v1/files HTTP/1.1\r\n${H()}Content-Length: -1\r\n\r\n`, expect: 'refused' },
  { name: 'bare LF inside a header value', bytes: () => `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-A: 1\nHost: ${decoy.host}\r\nConnection: close\r\n\r\n`, expect: 'either' },
  { name: 'obs-fold continuation', bytes: () => `GET /v1/models HTTP/1.1\r\n${H()}X-A: 1\r\n folded\r\n\r\n`, expect: 'refused' },
  { name: 'NUL in a header value', bytes: () => `GET /v1/models HTTP/1.1\r\n${H()}X-A: a\u0000b\r\n\r\n`, expect: 'refused' },
  { name: 'oversized headers', bytes: () => `GET /v1/models HTTP/1.1\r\n${H()}X-Big: ${'a'.repeat(70_000)}\r\n\r\n`, expect: 'refused' },
  {
    name: 'a smuggled second request in a chunked body',
    bytes: () => `POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${APP_OA}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET ${decoyTarget()}/v1/models HTTP/1.1\r\nHost: ${decoy.host}\r\nConnection: close\r\n\r\n`,
    expect: 'forwarded',
  },
];

const all = (): RecordedRequest[] => [...oa.requests, ...an.requests, ...gw.requests];

describe('hostile request shapes', () => {
  it('has at least 50 shapes', () => expect(SHAPES.length).toBeGreaterThanOrEqual(50));

  it.each(SHAPES.map((s) => [s.name, s] as const))('%s', async (_name, shape) => {
    for (const u of [oa, an, gw, decoy]) u.requests.length = 0;
    const res = await raw(shape.bytes());
    const seen = { oa: [...oa.requests], an: [...an.requests], gw: [...gw.requests] };
    const forwarded = all().length > 0;
    if (shape.expect === 'refused') {
      expect(res.status, res.head).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(forwarded, JSON.stringify(all().map((r) => r.requestLine))).toBe(false);
    } else if (shape.expect === 'forwarded') {
      expect(forwarded, `${res.status} ${res.head}`).toBe(true);
    } else {
      expect(res.status === 0 || (res.status >= 200 && res.status < 500), res.head).toBe(true);
    }
    // The invariant, whatever happened: nothing left a configured origin and base path, and each
    // credential went only where it belongs.
    expect(decoy.requests).toHaveLength(0);
    const within = (u: RecordingUpstream, base: string, list: RecordedRequest[]): void => {
      for (const r of list) {
        expect(r.host, r.requestLine).toBe(u.host);
        expect(r.target.startsWith(`${base}/`), r.requestLine).toBe(true);
        expect(r.target.split('?')[0], r.requestLine).not.toMatch(/(^|\/)\.\.?(\/|$)|%2e|%2f|%5c|\\/i);
      }
    };
    within(oa, '/tenant-a/v1', seen.oa);
    within(an, '/anth', seen.an);
    within(gw, '/gw/v1', seen.gw);
    const creds = (list: RecordedRequest[]): string => JSON.stringify(list.map((r) => r.credentials));
    expect(creds(seen.oa)).not.toMatch(/sk-ant-|configured/);
    expect(creds(seen.gw)).not.toContain(APP_OA);
    expect(creds(seen.gw)).not.toContain(APP_AN);
    expect(creds(seen.an)).not.toContain(APP_OA);
    expect(creds(seen.an)).not.toContain(APP_AN);
    shape.check?.(seen, res);
    // And it keeps serving.
    const ok = await request(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${APP_OA}` } });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
  });
});

describe('secrets never echoed', () => {
  it('masks a configured key a provider echoes in a pass-through answer (headers and body)', async () => {
    const res = await request(`http://127.0.0.1:${port}/v1/echo-key`, { headers: { 'x-llm-sidecar-route': 'keyed' } });
    const text = await res.body.text();
    expect(res.statusCode).toBe(401);
    expect(gw.requests.at(-1)?.credentials.authorization).toBe(`Bearer ${KEY_GW}`); // it did reach the provider
    expect(text).not.toContain(KEY_GW);
    expect(text).toContain('*'.repeat(KEY_GW.length));
    expect(JSON.stringify(res.headers)).not.toContain(KEY_GW);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(text));
  });

  it('masks a configured key echoed in an error the sidecar translates for the other API', async () => {
    const body = JSON.stringify({ model: 'echo-key', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    const res = await request(`http://127.0.0.1:${port}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': APP_AN, 'x-llm-sidecar-route': 'keyed' },
      body,
    });
    const text = await res.body.text();
    expect(gw.requests.at(-1)?.credentials.authorization).toBe(`Bearer ${KEY_GW}`); // translated to the OpenAI-type gateway
    expect(res.statusCode).toBe(401);
    expect((JSON.parse(text) as { type: string }).type).toBe('error'); // Anthropic's shape
    expect(text).not.toContain(KEY_GW);
    expect(text).toContain('*'.repeat(KEY_GW.length));
  });

  it('masks a configured key a provider echoes in an LLM error answer', async () => {
    const res = await request(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llm-sidecar-route': 'keyed' },
      body: chat('echo-key'),
    });
    const text = await res.body.text();
    expect(res.statusCode).toBe(401);
    expect(text).not.toContain(KEY_GW);
    expect(JSON.stringify(res.headers)).not.toContain(KEY_GW);
    expect((JSON.parse(text) as { error: { message: string } }).error.message).toContain('*'.repeat(KEY_GW.length));
  });
});
