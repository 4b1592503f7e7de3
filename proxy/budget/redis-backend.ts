// Counters shared by every sidecar replica, in Redis. Two Lua scripts (registered with
// defineCommand: EVALSHA, falling back to EVAL after a Redis restart) make each operation atomic
// on the server, so no interleaving of requests from any number of replicas can overshoot:
// - reserve: reads every counter, and only if ALL admit the request increments them all, setting
//   each key's TTL to the end of its window (+ grace).
// - adjust: applies true-ups/releases (never below 0, never resurrecting an expired key with a
//   negative delta) and claims alert keys with SET NX, so an alert fires on one replica only.
// One round trip per operation. Commands fail fast while disconnected (no offline queue, no
// resend after a reconnect), so the enforcer's fail-open/fail-closed decision is immediate.
// Redis Cluster: a script's keys must share a slot: put a hash tag in keyPrefix ("{budget}:").
import { Redis } from 'ioredis';
import type { AdjustResult, BudgetBackend, CounterAdjust, CounterReserve, ReserveResult } from './backend.ts';

// KEYS: the counters. ARGV: amount, limit, ttlMs per counter.
// Returns {1, values after…} when reserved, {0, values as they were…} when not.
const RESERVE_LUA = `
local n = #KEYS
local used = redis.call('MGET', unpack(KEYS))
local ok = 1
for i = 1, n do
  local u = tonumber(used[i] or '0')
  local amt = tonumber(ARGV[3 * i - 2])
  local lim = tonumber(ARGV[3 * i - 1])
  used[i] = u
  if u + amt > lim or (amt == 0 and u >= lim) then ok = 0 end
end
local out = {ok}
if ok == 0 then
  for i = 1, n do out[i + 1] = used[i] end
  return out
end
for i = 1, n do
  local v = redis.call('INCRBY', KEYS[i], ARGV[3 * i - 2])
  -- Only a new key needs its TTL (a key is only ever written with one).
  if used[i] == 0 then redis.call('PEXPIRE', KEYS[i], ARGV[3 * i]) end
  out[i + 1] = v
end
return out
`;

// KEYS: n counters, then the alert keys. ARGV: n, then per counter delta, ttlMs, alert threshold
// (0: none), alert key index among the alert keys (0: none).
// Returns {values after (-1: absent)…}, {indices (1-based) of alerts claimed by this call…}.
const ADJUST_LUA = `
local n = tonumber(ARGV[1])
local values = {}
local fired = {}
for i = 1, n do
  local b = 2 + 4 * (i - 1)
  local k = KEYS[i]
  local delta = tonumber(ARGV[b])
  local v
  if delta > 0 then
    v = redis.call('INCRBY', k, ARGV[b])
    if v == delta then redis.call('PEXPIRE', k, ARGV[b + 1]) end
  else
    local cur = redis.call('GET', k)
    if cur then
      v = tonumber(cur)
      if delta < 0 then
        local d = delta
        if v + d < 0 then d = -v end
        if d ~= 0 then v = redis.call('INCRBY', k, string.format('%d', d)) end
      end
    else
      v = -1
    end
  end
  values[i] = v
  local thr = tonumber(ARGV[b + 2])
  local ai = tonumber(ARGV[b + 3])
  if ai > 0 and thr > 0 and v >= thr then
    if redis.call('SET', KEYS[n + ai], '1', 'NX', 'PX', ARGV[b + 1]) then fired[#fired + 1] = i end
  end
end
return {values, fired}
`;

interface BudgetScripts {
  llmSidecarBudgetReserve(numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  llmSidecarBudgetAdjust(numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

export interface RedisBackendOptions {
  url: string;
  /** Called once per outage (the first connection error after being ready, or at start). */
  onConnectionError?: (err: Error) => void;
  /** How long connect() waits for the first connection before returning anyway (it keeps retrying). */
  connectWaitMs?: number;
  /** ioredis' own per-command limit: a safety net far above the enforcer's timeoutMs. */
  commandTimeoutMs?: number;
}

function asNumberArray(v: unknown): number[] {
  if (!Array.isArray(v)) throw new Error(`unexpected reply from the budget script: ${JSON.stringify(v)}`);
  return v.map((x) => Number(x));
}

export class RedisBudgetBackend implements BudgetBackend {
  readonly kind = 'redis' as const;
  readonly redis: Redis;
  private readonly scripts: BudgetScripts;
  private outageReported = false;

  constructor(options: RedisBackendOptions) {
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      // Fail fast while disconnected: the enforcer decides (fail-open/closed), nothing waits in a queue.
      enableOfflineQueue: false,
      // Commands in flight when the connection drops are rejected at once and never re-sent.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 2_000,
      connectTimeout: 2_000,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      keepAlive: 10_000,
    });
    this.redis.defineCommand('llmSidecarBudgetReserve', { lua: RESERVE_LUA });
    this.redis.defineCommand('llmSidecarBudgetAdjust', { lua: ADJUST_LUA });
    this.scripts = this.redis as unknown as BudgetScripts;
    this.redis.on('error', (err: Error) => {
      if (this.outageReported) return;
      this.outageReported = true;
      options.onConnectionError?.(err);
    });
    this.redis.on('ready', () => {
      this.outageReported = false;
    });
  }

  /** Creates the backend and waits (up to connectWaitMs) for the first connection; never throws. */
  static async connect(options: RedisBackendOptions): Promise<RedisBudgetBackend> {
    const backend = new RedisBudgetBackend(options);
    const wait = options.connectWaitMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      backend.redis.connect().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, wait);
        timer.unref();
      }),
    ]);
    if (timer !== undefined) clearTimeout(timer);
    return backend;
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  private ensureReady(): void {
    if (this.redis.status !== 'ready') throw new Error(`redis is not connected (${this.redis.status})`);
  }

  async reserve(counters: readonly CounterReserve[], _now: number): Promise<ReserveResult> {
    this.ensureReady();
    const args: (string | number)[] = [];
    for (const c of counters) args.push(c.key);
    for (const c of counters) args.push(c.amount, c.limit, Math.max(1, Math.ceil(c.ttlMs)));
    const reply = asNumberArray(await this.scripts.llmSidecarBudgetReserve(counters.length, ...args));
    return { ok: reply[0] === 1, values: reply.slice(1) };
  }

  async adjust(adjustments: readonly CounterAdjust[], _now: number): Promise<AdjustResult> {
    this.ensureReady();
    const keys: string[] = adjustments.map((a) => a.key);
    const alertKeys: string[] = [];
    const argv: (string | number)[] = [adjustments.length];
    for (const a of adjustments) {
      let alertIndex = 0;
      if (a.alert !== undefined) {
        alertKeys.push(a.alert.key);
        alertIndex = alertKeys.length;
      }
      argv.push(Math.trunc(a.delta), Math.max(1, Math.ceil(a.ttlMs)), a.alert?.threshold ?? 0, alertIndex);
    }
    const reply = await this.scripts.llmSidecarBudgetAdjust(keys.length + alertKeys.length, ...keys, ...alertKeys, ...argv);
    if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`unexpected reply from the budget script: ${JSON.stringify(reply)}`);
    return { values: asNumberArray(reply[0]), alerts: asNumberArray(reply[1]).map((i) => i - 1) };
  }

  async close(): Promise<void> {
    try {
      if (this.redis.status === 'ready') await this.redis.quit();
      else this.redis.disconnect();
    } catch {
      this.redis.disconnect();
    }
  }
}
