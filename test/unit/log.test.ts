// Structured logs (shared/log.ts): JSON lines with level, time and message; the request's ids on
// lines about a request; LOG_LEVEL over the config; credentials redacted wherever they are logged.
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { captureLogs, logger, requestLogger, setLogLevel } from '../../shared/log.ts';
import { startStack, type Stack } from '../stack.ts';

let capture: ReturnType<typeof captureLogs>;
const parsed = (): Record<string, unknown>[] => capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(() => {
  capture = captureLogs();
});
afterAll(() => capture.restore());
afterEach(() => {
  capture.lines.length = 0;
  delete process.env.LOG_LEVEL;
  setLogLevel('info');
});

describe('log lines', () => {
  it('are JSON with level, ISO time, message and service', () => {
    logger.warn({ target: 'r/0' }, 'circuit breaker opened');
    const [line] = parsed();
    expect(line).toMatchObject({ level: 'warn', msg: 'circuit breaker opened', service: 'llm-sidecar', target: 'r/0' });
    expect(String(line?.time)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('carry the trace and request ids of the request they are about', () => {
    requestLogger({ requestId: 'req-1', traceId: '0af7651916cd43dd8448eb211c80319c' }).error('internal error');
    expect(parsed()[0]).toMatchObject({ request_id: 'req-1', trace_id: '0af7651916cd43dd8448eb211c80319c', msg: 'internal error' });
  });

  it('follow LOG_LEVEL over the configured level', () => {
    setLogLevel('debug');
    logger.debug('shown');
    process.env.LOG_LEVEL = 'error';
    setLogLevel('debug');
    logger.warn('hidden');
    logger.error('shown too');
    expect(parsed().map((l) => l.msg)).toEqual(['shown', 'shown too']);
  });

  it('redact credentials wherever an object carries them', () => {
    logger.info(
      { apiKey: 'sk-top-SECRET1', headers: { authorization: 'Bearer sk-SECRET2', 'x-api-key': 'sk-ant-SECRET3', 'api-key': 'SECRET4' }, provider: { openai: { apiKey: 'SECRET5' } }, clickhouse: { password: 'SECRET6' } },
      'config loaded',
    );
    const text = capture.lines.join('');
    expect(text).toContain('config loaded');
    expect(text).toContain('[redacted]');
    expect(text).not.toMatch(/SECRET/);
  });
});

describe('a request the client leaves', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('is logged at debug level as a client abort with its request id, not as an internal error', async () => {
    setLogLevel('debug');
    await new Promise<void>((resolve) => {
      const socket = connect(stack.sidecar.proxyAddress.port, '127.0.0.1', () => {
        socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-request-id: leaving-1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"model":');
        socket.destroy();
        resolve();
      });
    });
    await expect.poll(() => parsed().find((l) => l.msg === 'client aborted')).toMatchObject({ level: 'debug', request_id: 'leaving-1', method: 'POST' });
    expect(parsed().some((l) => l.level === 'error')).toBe(false);
  });
});
