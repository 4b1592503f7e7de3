// The admin listener (default 0.0.0.0:4001): liveness, readiness and Prometheus metrics, kept apart
// from the traffic port so probes and scrapes never compete with the app's requests. `/metrics`
// answers in OpenMetrics when the scraper's Accept header asks for it (Prometheus does, and then
// reads exemplars), in the Prometheus text format otherwise.
import { logger } from './log.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AdminSources {
  ready(): boolean;
  /** A plain string is served as Prometheus text (the evaluator's hand-written metrics). */
  metrics(openMetrics: boolean): string | Promise<{ contentType: string; body: string }>;
}

/** True when the Accept header lists OpenMetrics (with any parameters) at a non-zero quality. */
export function acceptsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    return type === 'application/openmetrics-text' && !params.some((p) => /^q=0(\.0*)?$/.test(p));
  });
}

/**
 * Anyone on the pod network reaches the admin port, and its sockets are file descriptors of the
 * process that serves the traffic port. Probes and scrapes use a handful of short connections, so:
 * at most this many at once (more are closed on accept), and headers within 10 s (Node's default is
 * 60 s checked every 30 s: an idle or trickling connection held a descriptor up to 90 s).
 */
export const ADMIN_MAX_CONNECTIONS = 256;
export const ADMIN_HEADERS_TIMEOUT_MS = 10_000;

export interface AdminServerLimits {
  maxConnections?: number;
  headersTimeoutMs?: number;
}

export class AdminServer {
  readonly server: Server;
  private readonly maxConnections: number;

  constructor(
    private readonly host: string,
    private readonly port: number,
    sources: AdminSources,
    limits: AdminServerLimits = {},
  ) {
    this.maxConnections = limits.maxConnections ?? ADMIN_MAX_CONNECTIONS;
    const headersTimeout = limits.headersTimeoutMs ?? ADMIN_HEADERS_TIMEOUT_MS;
    this.server = createServer({ headersTimeout, requestTimeout: headersTimeout + 5_000, connectionsCheckingInterval: 1_000 }, (req, res) => {
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
          Promise.resolve(sources.metrics(acceptsOpenMetrics(req.headers.accept)))
            .then((m) => (typeof m === 'string' ? { contentType: 'text/plain; version=0.0.4; charset=utf-8', body: m } : m))
            .then(
            ({ contentType, body }) => {
              res.writeHead(200, { 'content-type': contentType });
              res.end(req.method === 'HEAD' ? undefined : body);
            },
            (err: unknown) => {
              logger.error({ stack: (err as Error)?.stack ?? String(err) }, '/metrics failed');
              res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
            },
          );
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
      }
    });
  }

  async listen(): Promise<AddressInfo> {
    this.server.maxConnections = this.maxConnections;
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
