// Attacks on the admin port (shared/admin-server.ts): anyone on the pod network reaches it, and its
// sockets are file descriptors of the process that serves the traffic port. Before the fix: no cap
// on connections and Node's default header timeout (60 s, checked every 30 s), so idle or trickling
// connections each held a descriptor for up to 90 s and a flood could take the process's
// descriptors (the proxy's accepts and upstream connections then fail with EMFILE).
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_HEADERS_TIMEOUT_MS, ADMIN_MAX_CONNECTIONS, AdminServer, type AdminServerLimits } from '../../shared/admin-server.ts';
import { until } from '../support/wait.ts';

const sources = { ready: () => true, metrics: () => '# TYPE up gauge\nup 1\n' };
let admin: AdminServer | undefined;
const sockets: Socket[] = [];

async function start(limits?: AdminServerLimits): Promise<string> {
  admin = new AdminServer('127.0.0.1', 0, sources, limits);
  const address = await admin.listen();
  return `127.0.0.1:${address.port}`;
}

function open(hostPort: string): Socket & { received?: string } {
  const [host, port] = hostPort.split(':') as [string, string];
  const s: Socket & { received?: string } = connect(Number(port), host);
  s.received = '';
  s.on('data', (d: Buffer) => (s.received += d.toString('latin1')));
  s.on('error', () => undefined);
  sockets.push(s);
  return s;
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await admin?.close();
  admin = undefined;
});

describe('admin port under a connection flood', () => {
  it('defaults: at most 256 connections, headers within 10 s', async () => {
    await start();
    expect(admin?.server.maxConnections).toBe(ADMIN_MAX_CONNECTIONS);
    expect(admin?.server.headersTimeout).toBe(ADMIN_HEADERS_TIMEOUT_MS);
    expect(ADMIN_MAX_CONNECTIONS).toBe(256);
    expect(ADMIN_HEADERS_TIMEOUT_MS).toBe(10_000);
  });

  it('closes connections past the cap on accept, and serves again once they are gone', async () => {
    const at = await start({ maxConnections: 8 });
    const flood = Array.from({ length: 12 }, () => open(at));
    await until('the 4 connections past the cap are closed by the server', () => flood.filter((s) => s.closed).length === 4);
    for (const s of flood) s.destroy();
    await until('the server has no connection left', () => new Promise<boolean>((resolve) => admin?.server.getConnections((_e, n) => resolve(n === 0))));
    const res = await fetch(`http://${at}/healthz`);
    expect(res.status).toBe(200);
  });

  it('drops a connection whose headers do not arrive within the header timeout', async () => {
    const at = await start({ headersTimeoutMs: 1_000 });
    const silent = open(at);
    const trickle = open(at);
    trickle.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const t0 = Date.now();
    await until('both slow connections are closed by the server', () => silent.closed && trickle.closed, { timeoutMs: 8_000 });
    expect(Date.now() - t0).toBeLessThan(8_000);
    expect(trickle.received).toMatch(/^HTTP\/1\.1 408/);
  });

  it('held: only GET/HEAD of the three paths; path tricks are 404, a query is ignored', async () => {
    const at = await start();
    expect((await fetch(`http://${at}/metrics?name[]=x`)).status).toBe(200);
    expect((await fetch(`http://${at}/metrics`, { method: 'POST', body: 'x'.repeat(100_000) })).status).toBe(405);
    for (const path of ['//metrics', '/metrics/', '/Metrics', '/metrics%00', '/healthz/../metrics']) {
      const s = open(at);
      s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      await until(`an answer to ${path}`, () => s.closed);
      expect(s.received, path).toMatch(/^HTTP\/1\.1 404/);
    }
  });
});
