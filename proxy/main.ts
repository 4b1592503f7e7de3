// Assembles a running sidecar from a validated config: price table, metrics, proxy and admin
// listeners. `startSidecar` is what the CLI, the demo and the tests all use.
import type { AddressInfo } from 'node:net';
import type { Config } from '../shared/config/schema.ts';
import { loadPriceTable, priceCall } from '../shared/pricing/price-table.ts';
import { AdminServer } from './admin.ts';
import { CompositeRecorder, type CallRecorder } from './call-record.ts';
import { ProxyMetrics } from './metrics.ts';
import { ProxyServer } from './server.ts';

export interface RunningSidecar {
  proxy: ProxyServer;
  metrics: ProxyMetrics;
  proxyAddress: AddressInfo;
  adminAddress: AddressInfo;
  /** Base URL apps give their SDK (OpenAI: add `/v1`). */
  url: string;
  adminUrl: string;
  close(graceMs?: number): Promise<void>;
}

export async function startSidecar(config: Config, extraRecorders: CallRecorder[] = []): Promise<RunningSidecar> {
  const prices = loadPriceTable(config.pricing.models);
  const metrics = new ProxyMetrics();
  const proxy = new ProxyServer({
    config,
    price: (providerType, model, usage) => {
      const priced = priceCall(prices, providerType, model, usage);
      return priced.known ? priced.totalUsd : undefined;
    },
    recorder: new CompositeRecorder([metrics, ...extraRecorders]),
  });
  const admin = new AdminServer(config.admin.host, config.admin.port, { ready: () => proxy.ready, metrics: () => metrics.render() });
  const adminAddress = await admin.listen();
  let proxyAddress: AddressInfo;
  try {
    proxyAddress = await proxy.listen();
  } catch (err) {
    await admin.close();
    throw err;
  }
  const hostFor = (a: AddressInfo): string => (a.family === 'IPv6' ? `[${a.address}]` : a.address === '0.0.0.0' ? '127.0.0.1' : a.address);
  return {
    proxy,
    metrics,
    proxyAddress,
    adminAddress,
    url: `http://${hostFor(proxyAddress)}:${proxyAddress.port}`,
    adminUrl: `http://${hostFor(adminAddress)}:${adminAddress.port}`,
    async close(graceMs = 10_000) {
      await proxy.close(graceMs);
      await admin.close();
    },
  };
}
