// The bench's own parts that its figures rest on: the bare reference forwarder really forwards
// (JSON, SSE chunk by chunk, hop-by-hop headers dropped, 502 when the upstream is gone), the report
// compares with whichever references ran and says why one did not, and the CPU-profile summary
// attributes samples to the right functions inside the requested window. Real HTTP on port 0.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { spawnNode, type Child } from './children.ts';
import { summariseProfile, type CpuProfile } from './cpuprofile.ts';
import type { OpenLoopResult } from './open-loop.ts';
import { buildReport, TARGETS, type ReportInput, type TargetMeasurement, type TargetName, type TargetOutcome } from './report.ts';

describe('bare-passthrough.mjs', () => {
  let upstream: Server;
  let seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[];
  let releaseSecondEvent: () => void = () => undefined;
  let bare: Child;
  let origin: string;

  beforeAll(async () => {
    seen = [];
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
        if (req.url === '/sse') {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'keep-alive': 'timeout=5' });
          res.write('data: one\n\n');
          // The second event waits for the test: the first must reach the client before it.
          releaseSecondEvent = () => res.end('data: two\n\n');
          return;
        }
        res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'yes' });
        res.end(JSON.stringify({ ok: true }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const { port } = upstream.address() as AddressInfo;
    bare = spawnNode('bare-passthrough', ['test/bench/bare-passthrough.mjs', '--upstream', `http://127.0.0.1:${port}`]);
    origin = (await bare.waitForOutput(/bare-passthrough listening on (http:\/\/\S+)/, 15_000))[1] as string;
  });
  afterAll(async () => {
    await bare?.stop();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
  });

  it('forwards method, path, end-to-end headers and the whole body, and the answer as it came', async () => {
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'é'.repeat(5000) }] });
    const res = await request(`${origin}/v1/chat/completions?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'proxy-authorization': 'Basic secret', te: 'trailers' },
      body,
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['x-upstream']).toBe('yes');
    expect(await res.body.json()).toEqual({ ok: true });
    const got = seen.at(-1);
    expect(got).toMatchObject({ method: 'POST', url: '/v1/chat/completions?x=1', body });
    expect(got?.headers.authorization).toBe('Bearer k');
    expect(got?.headers['proxy-authorization']).toBeUndefined();
    expect(got?.headers.te).toBeUndefined();
    expect(got?.headers.host).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('streams SSE event by event, without the hop-by-hop headers of the upstream', async () => {
    const res = await request(`${origin}/sse`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.headers['keep-alive']).not.toBe('timeout=5');
    const it = res.body[Symbol.asyncIterator]();
    const first = await it.next();
    expect(String(first.value)).toBe('data: one\n\n');
    releaseSecondEvent();
    let rest = '';
    for (let r = await it.next(); !r.done; r = await it.next()) rest += String(r.value);
    expect(rest).toBe('data: two\n\n');
  });

  it('answers 502 (its own text) when the upstream cannot be reached', async () => {
    const dead = spawnNode('bare-passthrough', ['test/bench/bare-passthrough.mjs', '--upstream', 'http://127.0.0.1:1']);
    try {
      const deadOrigin = (await dead.waitForOutput(/bare-passthrough listening on (http:\/\/\S+)/, 15_000))[1] as string;
      const res = await request(`${deadOrigin}/v1/models`);
      expect(res.statusCode).toBe(502);
      expect(await res.body.text()).toMatch(/^bare-passthrough: upstream error/);
    } finally {
      await dead.stop();
    }
  });
});

describe('the report against two references', () => {
  const latency = { p50: 1, p90: 2, p99: 3, max: 4, mean: 1 };
  const measured = (reqPerS: number, p50: number, more: { p99?: number; cpu?: number; satCpu?: number; rssMb?: number; anonMb?: number } = {}): TargetMeasurement =>
    ({
      url: 'http://x',
      fixed: {
        latencyMs: { ...latency, p50, p99: more.p99 ?? latency.p99 },
        sendLagMs: latency,
        errors: 0,
        non2xx: 0,
        timedOut: 0,
        cpuUsPerReq: more.cpu ?? 100,
        rssMb: more.rssMb,
        anonMb: more.anonMb,
      },
      stream: { ttfbMs: { ...latency, p50 }, errors: 0, non2xx: 0, timedOut: 0 },
      saturation: { reqPerS, roundsReqPerS: [reqPerS], errors: 0, non2xx: 0, cpuUsPerReq: more.satCpu },
    }) as unknown as TargetMeasurement & { fixed: OpenLoopResult };
  const input = (targets: Partial<Record<TargetName, TargetOutcome>>): ReportInput => ({
    startedAt: 't',
    finishedAt: 't',
    node: 'v20',
    cpu: { model: 'cpu', cores: 2 },
    platform: 'linux',
    loadAverage: 0,
    settings: { durationS: 1, warmupS: 1, rate: 500, streamRate: 200, streamDurationS: 1, connections: 50, rounds: 1, openLoopConnections: 64 },
    targets: { ...(Object.fromEntries(TARGETS.map((t) => [t, { status: 'skipped' }])) as Record<TargetName, TargetOutcome>), ...targets },
  });

  it('gives each sidecar mode its ratio to bare and to nginx', () => {
    const { json, text } = buildReport(
      input({
        direct: { status: 'ok', result: measured(4000, 1) },
        bare: { status: 'ok', result: measured(2000, 1.5) },
        nginx: { status: 'ok', result: measured(3000, 1.2) },
        proxy: { status: 'ok', result: measured(1500, 1.8) },
      }),
    );
    const ratios = (json as { throughputRatio: Record<string, number> }).throughputRatio;
    expect(ratios['proxy vs bare']).toBeCloseTo(0.75);
    expect(ratios['proxy vs nginx']).toBeCloseTo(0.5);
    expect(ratios['bare vs nginx']).toBeCloseTo(2 / 3);
    expect(text).toMatch(/% of nginx/);
    expect(text).toMatch(/proxy vs nginx\s+\+0\.600 ms/);
  });

  it("holds each mode to issue #18's goals: its own throughput floor, telemetry CPU over telemetry off, memory, p99 against bare's", () => {
    const { json } = buildReport(
      input({
        direct: { status: 'ok', result: measured(4000, 1, { p99: 2 }) },
        bare: { status: 'ok', result: measured(2000, 1.2, { p99: 3 }) }, // adds 1 ms of p99
        proxy: { status: 'ok', result: measured(1600, 1.3, { p99: 3.5, cpu: 130, satCpu: 100, rssMb: 120 }) },
        'proxy-otlp': { status: 'ok', result: measured(1300, 1.3, { p99: 4.5, cpu: 200, satCpu: 150, rssMb: 140 }) },
        'proxy-embedded': { status: 'ok', result: measured(1300, 1.3, { p99: 3.9, cpu: 240, rssMb: 390, anonMb: 180 }) },
      }),
    );
    const checks = new Map((json as { checks: { name: string; value: number | null; result: string }[] }).checks.map((c) => [c.name, c]));
    // 65 % of bare: below OTLP's 70 %, above embedded's 60 %.
    expect(checks.get('throughput proxy-otlp / bare')?.result).toBe('MISS');
    expect(checks.get('throughput proxy-embedded / bare')?.result).toBe('PASS');
    expect(checks.get('telemetry CPU proxy-otlp − proxy @ 500 req/s')).toMatchObject({ value: 70, result: 'MISS' });
    expect(checks.get('telemetry CPU proxy-embedded − proxy @ 500 req/s')).toMatchObject({ value: 110, result: 'PASS' });
    // Also at saturation (the marginal cost), from the saturation phase's CPU.
    expect(checks.get('telemetry CPU proxy-otlp − proxy at saturation')).toMatchObject({ value: 50, result: 'PASS' });
    expect(checks.get('telemetry CPU proxy-embedded − proxy at saturation')).toMatchObject({ value: null, result: 'n/a' });
    // Embedded is held to its anonymous memory (chdb's mapped code is not the process's own).
    expect(checks.get('proxy-embedded anonymous memory @ 500 req/s')).toMatchObject({ value: 180, result: 'PASS' });
    expect(checks.get('proxy-otlp RSS @ 500 req/s')?.result).toBe('PASS');
    expect(checks.get("added p99 proxy-otlp / bare's added p99 @ 500 req/s")).toMatchObject({ value: 2.5, result: 'MISS' });
    expect(checks.get("added p99 proxy-embedded / bare's added p99 @ 500 req/s")?.result).toBe('PASS');
  });

  it('says why nginx did not run, and leaves no comparison with it', () => {
    const { json, text } = buildReport(
      input({
        direct: { status: 'ok', result: measured(4000, 1) },
        bare: { status: 'ok', result: measured(2000, 1.5) },
        nginx: { status: 'skipped', reason: 'nginx not installed: apt-get install nginx, or NGINX_BIN' },
        proxy: { status: 'ok', result: measured(1500, 1.8) },
      }),
    );
    expect(text).toMatch(/nginx\s+skipped \(nginx not installed/);
    expect(Object.keys((json as { throughputRatio: object }).throughputRatio).filter((k) => k.includes('nginx'))).toEqual([]);
  });
});

describe('the CPU profile summary', () => {
  // Three functions; samples 10 µs apart; `hot` has most samples, one of them outside the window.
  const profile: CpuProfile = {
    startTime: 1_000,
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
      { id: 2, callFrame: { functionName: 'hot', url: 'file:///repo/proxy/telemetry/span-recorder.ts', lineNumber: 9 } },
      { id: 3, callFrame: { functionName: 'parse', url: 'file:///repo/node_modules/undici/lib/x.js', lineNumber: 0 } },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    ],
    samples: [2, 2, 3, 4, 2, 2],
    timeDeltas: [0, 10, 10, 10, 10, 10],
  };

  it('attributes each sample its duration, idle excluded, by function and by area', () => {
    const s = summariseProfile(profile);
    // Samples at 1000..1050; the last has no successor, so no duration.
    expect(s.busyUs).toBe(40);
    expect(s.functions[0]).toMatchObject({ name: 'hot proxy/telemetry/span-recorder.ts:10', us: 30 });
    expect(s.areas.map((a) => a.name)).toEqual(['proxy/telemetry', 'npm undici']);
  });

  it('keeps only the samples inside the window', () => {
    const s = summariseProfile(profile, { window: { fromUs: 1_015, toUs: 1_045 } });
    expect(s.functions.map((f) => [f.name.split(' ')[0], f.us])).toEqual([
      ['parse', 10],
      ['hot', 10],
    ]);
  });
});
