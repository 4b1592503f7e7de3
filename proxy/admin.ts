// The admin listener (default 0.0.0.0:4001): liveness, readiness and Prometheus metrics, kept apart
// from the traffic port so probes and scrapes never compete with the app's requests.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AdminSources {
  ready(): boolean;
  metrics(): string;
}

export class AdminServer {
  readonly server: Server;

  constructor(
    private readonly host: string,
    private readonly port: number,
    sources: AdminSources,
  ) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      switch (path) {
        case '/healthz':
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
          return;
        case '/readyz': {
          const ready = sources.ready();
          res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(ready ? '{"status":"ready"}' : '{"status":"not ready"}');
          return;
        }
        case '/metrics':
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(sources.metrics());
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
      }
    });
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
