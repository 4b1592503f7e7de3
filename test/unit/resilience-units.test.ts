import { describe, expect, it } from 'vitest';
import { fullJitter, retryAfterMs, retryDelayMs } from '../../proxy/resilience/backoff.ts';
import { CircuitBreaker } from '../../proxy/resilience/circuit-breaker.ts';
import { RetryBudget } from '../../proxy/resilience/retry-budget.ts';
import { PeakEwma, Router } from '../../proxy/routing.ts';
import { parseConfig } from '../../shared/config/load.ts';

describe('backoff', () => {
  it('honours retry-after-ms, retry-after (seconds and HTTP date) and the providers’ reset headers', () => {
    const now = Date.parse('2026-11-23T00:00:00Z');
    expect(retryAfterMs({ 'retry-after-ms': '250' }, now)).toBe(250);
    expect(retryAfterMs({ 'retry-after': '2' }, now)).toBe(2000);
    expect(retryAfterMs({ 'retry-after': 'Mon, 23 Nov 2026 00:00:03 GMT' }, now)).toBe(3000);
    expect(retryAfterMs({ 'x-ratelimit-reset-requests': '1m30s' }, now)).toBe(90_000);
    expect(retryAfterMs({ 'x-ratelimit-reset-tokens': '250ms' }, now)).toBe(250);
    expect(retryAfterMs({ 'anthropic-ratelimit-requests-reset': '2026-11-23T00:00:05Z' }, now)).toBe(5000);
    expect(retryAfterMs({}, now)).toBeUndefined();
  });

  it('full jitter stays within the exponential cap; a provider hint is capped', () => {
    for (let a = 0; a < 8; a++) {
      expect(fullJitter(a, { baseMs: 100, maxMs: 1000 }, () => 0.999)).toBeLessThan(Math.min(1000, 100 * 2 ** a));
      expect(fullJitter(a, { baseMs: 100, maxMs: 1000 }, () => 0)).toBe(0);
    }
    expect(retryDelayMs(0, { 'retry-after': '60' }, { baseMs: 100, maxMs: 1000, maxRetryAfterMs: 5000 })).toBe(5000);
  });
});

describe('circuit breaker', () => {
  it('needs the minimum volume, trips above the ratio, lets one probe through after the cooldown', () => {
    let t = 1_000;
    const changes: string[] = [];
    const b = new CircuitBreaker({ failureRatio: 0.5, windowMs: 10_000, minRequests: 4, cooldownMs: 1_000 }, (f, to) => changes.push(`${f}→${to}`), () => t);
    b.record(false);
    b.record(false);
    b.record(false);
    expect(b.current).toBe('closed'); // 3 < minRequests
    b.record(false);
    expect(b.current).toBe('open');
    expect(b.allow()).toBe(false);
    t += 1_000;
    expect(b.allow()).toBe(true); // the probe
    expect(b.allow()).toBe(false); // only one
    b.record(true);
    expect(b.current).toBe('closed');
    expect(changes).toEqual(['closed→open', 'open→half_open', 'half_open→closed']);
  });

  it('forgets failures that fell out of the window', () => {
    let t = 0;
    const b = new CircuitBreaker({ failureRatio: 0.5, windowMs: 1_000, minRequests: 2, cooldownMs: 1_000 }, undefined, () => t);
    b.record(false);
    t += 5_000;
    b.record(true);
    b.record(false);
    expect(b.current).toBe('closed'); // 1 of 2 in the window: not above 50 %
  });
});

describe('retry budget', () => {
  it('allows retries up to the ratio of recent requests plus a floor', () => {
    let t = 0;
    const budget = new RetryBudget({ ratio: 0.1, windowMs: 1_000, minRetries: 2 }, () => t);
    for (let i = 0; i < 50; i++) budget.recordRequest();
    let granted = 0;
    for (let i = 0; i < 50; i++) if (budget.tryRetry()) granted++;
    expect(granted).toBe(7); // 2 + 10 % of 50
    t += 2_000;
    expect(budget.tryRetry()).toBe(true); // the window moved on
  });
});

describe('latency strategy', () => {
  it('peak-EWMA jumps up on a slow answer and decays slowly', () => {
    const e = new PeakEwma(1_000);
    e.observe(10, 0);
    e.observe(200, 10);
    expect(e.score).toBe(200);
    e.observe(10, 1_010);
    expect(e.score).toBeGreaterThan(10);
    expect(e.score).toBeLessThan(200);
  });

  it('orders targets by recent latency, exploring now and then', () => {
    const config = parseConfig({
      providers: { p: { type: 'openai', baseUrl: 'http://x/v1' } },
      routes: { fast: { strategy: 'latency', targets: [{ provider: 'p', model: 'slow' }, { provider: 'p', model: 'quick' }] } },
    });
    let r = 0.5;
    const router = new Router(config, { random: () => r });
    const f = () => ({ inputTokens: 1, maxOutputTokens: 1, hasTools: false, hasImages: false });
    const route = router.select('x', 'fast', f, undefined, undefined);
    const first = router.plan('openai', 'x', route, f).candidates;
    first[0]!.target.latency.observe(500);
    first[1]!.target.latency.observe(20);
    expect(router.plan('openai', 'x', route, f).candidates.map((c) => c.model)).toEqual(['quick', 'slow']);
    r = 0.01; // below the 5 % exploration share
    expect(router.plan('openai', 'x', route, f).candidates[0]!.model).toBe('slow');
  });
});
