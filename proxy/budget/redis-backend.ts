// Counters shared by every sidecar replica, in Redis (one server, Sentinel or Cluster). Two Lua
// scripts make each operation atomic on the server, so no interleaving of requests from any number
// of replicas can overshoot:
// - reserve: gives back expired leases, reads every counter, and only if ALL admit the request
//   increments them all (setting each new key's TTL to the end of its window + grace) and records
//   the lease: what this reservation holds, until its deadline.
// - adjust: ends the lease and applies true-ups/releases (never below 0, never resurrecting an
//   expired key with a negative delta); when the lease had already been given back, it applies the
//   whole actual usage instead of the difference. A retry (the first attempt failed or timed out)
//   whose lease is gone changes nothing: the first attempt did run (retries stop at the lease's
//   deadline, before it can be given back). Claims alert keys with SET NX, so an alert fires on one
//   replica only. Only leases in flight are stored: nothing is kept per settled call.
// Leases live in a sorted set (id → deadline) and a hash (id → the keys and amounts held), under
// the key prefix. A reservation whose commit or release never reached Redis is thus given back at
// its deadline, by whichever replica reserves next — never counted for the rest of its window.
// One round trip per operation. The scripts are loaded on every server (SCRIPT LOAD) before the
// backend counts as started; EVALSHA falls back to EVAL on a server that lost them (a restart, a
// promoted replica). Commands fail fast while disconnected (no offline queue, no resend after a
// reconnect), so the enforcer's fail-open/fail-closed decision is immediate.
// Redis Cluster: a script's keys must share a slot, so the key prefix carries a hash tag
// ("{llm-sidecar:budget}:" by default): every budget key is in one slot, on one primary (and its
// replicas). The lease scripts also touch the counter keys a lease names, which are not in KEYS:
// they share the same slot, so this holds on Cluster too.
import type { RedisConnectionConfig } from '../../shared/config/budgets.ts';
import { Cluster } from 'ioredis';
import { createRedisClient, serversOf, whenReady, type RedisClient } from '../redis-client.ts';
import type { AdjustResult, BudgetBackend, CounterAdjust, CounterReserve, Lease, LeaseEnd, ReserveResult } from './backend.ts';

/** The lease set and hash outlive the last lease written into them by this much. */
const LEASE_KEYS_GRACE_MS = 60_000;

// Gives back up to 32 leases whose deadline passed.
const REAP_LUA = `
local function keep(k, ms)
  if redis.call('PTTL', k) < tonumber(ms) then redis.call('PEXPIRE', k, ms) end
end
local function reap(z, h, now)
  local ids = redis.call('ZRANGEBYSCORE', z, '-inf', now, 'LIMIT', 0, 32)
  for _, id in ipairs(ids) do
    local data = redis.call('HGET', h, id)
    if data then
      local held = cjson.decode(data)
      for j = 1, #held, 2 do
        local cur = redis.call('GET', held[j])
        if cur then
          local d = tonumber(held[j + 1])
          if d > tonumber(cur) then d = tonumber(cur) end
          if d > 0 then redis.call('DECRBY', held[j], string.format('%d', d)) end
        end
      end
      redis.call('HDEL', h, id)
    end
    redis.call('ZREM', z, id)
  end
end
`;

// KEYS: the counters, then the lease set and hash. ARGV: now, lease id ('' = none), lease
// deadline, how long the lease keys must live at least (ms), then amount, limit, ttlMs per counter.
// Returns {1, values after…} when reserved, {0, values as they were…} when not.
const RESERVE_LUA = `${REAP_LUA}
local n = #KEYS - 2
local z, h = KEYS[n + 1], KEYS[n + 2]
reap(z, h, ARGV[1])
local counters = {}
for i = 1, n do counters[i] = KEYS[i] end
local used = redis.call('MGET', unpack(counters))
local ok = 1
for i = 1, n do
  local u = tonumber(used[i] or '0')
  local amt = tonumber(ARGV[3 * i + 2])
  local lim = tonumber(ARGV[3 * i + 3])
  used[i] = u
  if u + amt > lim or (amt == 0 and u >= lim) then ok = 0 end
end
local out = {ok}
if ok == 0 then
  for i = 1, n do out[i + 1] = used[i] end
  return out
end
local held = {}
for i = 1, n do
  local amt = ARGV[3 * i + 2]
  local v = redis.call('INCRBY', KEYS[i], amt)
  -- Only a new key needs its TTL (a key is only ever written with one).
  if used[i] == 0 then redis.call('PEXPIRE', KEYS[i], ARGV[3 * i + 4]) end
  if tonumber(amt) > 0 then held[#held + 1] = KEYS[i]; held[#held + 1] = amt end
  out[i + 1] = v
end
-- Registered even when it holds nothing: its settlement must still find it (see retries in adjust).
if ARGV[2] ~= '' then
  redis.call('ZADD', z, ARGV[3], ARGV[2])
  redis.call('HSET', h, ARGV[2], cjson.encode(held))
  keep(z, ARGV[4])
  keep(h, ARGV[4])
end
return out
`;

// KEYS: n counters, then the alert keys, then the lease set and hash. ARGV: n, lease id ('' =
// none), '1' for a retry, unused, then per counter delta, ttlMs, alert threshold (0: none), alert
// key index among the alert keys (0: none), amount held by the lease.
// Returns {values after (-1: absent)…}, {indices (1-based) of alerts claimed by this call…}.
const ADJUST_LUA = `
local n = tonumber(ARGV[1])
local z, h = KEYS[#KEYS - 1], KEYS[#KEYS]
local lease = ARGV[2]
local lapsed = false
if lease ~= '' then
  local held = redis.call('ZREM', z, lease) == 1
  redis.call('HDEL', h, lease)
  if not held then
    if ARGV[3] == '1' then
      -- A retry whose lease is gone: its first attempt ran (and ended the lease).
      local values = {}
      for i = 1, n do values[i] = tonumber(redis.call('GET', KEYS[i]) or '-1') end
      return {values, {}}
    end
    lapsed = true
  end
end
local values = {}
local fired = {}
for i = 1, n do
  local b = 5 + 5 * (i - 1)
  local k = KEYS[i]
  local delta = tonumber(ARGV[b])
  -- The lease was already given back: what it held is no longer counted.
  if lapsed then delta = delta + tonumber(ARGV[b + 4]) end
  local v
  if delta > 0 then
    v = redis.call('INCRBY', k, string.format('%d', delta))
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
  /** Where Redis is (one server, Cluster or Sentinel). */
  connection: RedisConnectionConfig;
  /** Every key starts with it (the lease set and hash too). */
  keyPrefix: string;
  /** Called once per outage (the first connection error after being ready, or at start). */
  onConnectionError?: (err: Error) => void;
  /** How long connect() waits for the first connection and the scripts before returning anyway (it keeps retrying). */
  connectWaitMs?: number;
  /** ioredis' own per-command limit: a safety net above the enforcer's timeoutMs. */
  commandTimeoutMs?: number;
}

function asNumberArray(v: unknown): number[] {
  if (!Array.isArray(v)) throw new Error(`unexpected reply from the budget script: ${JSON.stringify(v)}`);
  return v.map((x) => Number(x));
}

export class RedisBudgetBackend implements BudgetBackend {
  readonly kind = 'redis' as const;
  readonly leases = true;
  readonly redis: RedisClient;
  private readonly scripts: BudgetScripts;
  private readonly leaseSet: string;
  private readonly leaseHash: string;
  private outageReported = false;
  private everReady = false;
  private loading: Promise<void> | undefined;
  private closed = false;
  private firstConnection: Promise<boolean> | undefined;
  private readonly onConnectionError: ((err: Error) => void) | undefined;

  constructor(options: RedisBackendOptions) {
    this.redis = createRedisClient(options.connection, { commandTimeoutMs: options.commandTimeoutMs ?? 2_000, connectTimeoutMs: 2_000, maxReconnectDelayMs: 2_000 });
    this.redis.defineCommand('llmSidecarBudgetReserve', { lua: RESERVE_LUA });
    this.redis.defineCommand('llmSidecarBudgetAdjust', { lua: ADJUST_LUA });
    this.scripts = this.redis as unknown as BudgetScripts;
    this.leaseSet = `${options.keyPrefix}leases`;
    this.leaseHash = `${options.keyPrefix}lease-data`;
    this.redis.on('error', (err: Error) => {
      if (this.outageReported) return;
      this.outageReported = true;
      options.onConnectionError?.(err);
    });
    this.onConnectionError = options.onConnectionError;
    this.redis.on('ready', () => {
      this.outageReported = false;
      if (!this.everReady) this.loading ??= this.loadScripts().finally(() => (this.loading = undefined));
    });
  }

  /**
   * SCRIPT LOAD on every primary, so the first reservations do not pay a NOSCRIPT round trip (a
   * replica promoted later falls back to EVAL once). Retried every second until it succeeds: the
   * backend counts as started only then.
   */
  private async loadScripts(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const servers = this.redis instanceof Cluster ? this.redis.nodes('master') : serversOf(this.redis);
        await Promise.all(
          servers.map(async (s) => {
            if (!(await whenReady(s, 2_000))) throw new Error(`redis ${s.options.host ?? ''}:${s.options.port ?? ''} is not connected (${s.status})`);
            await Promise.all([s.script('LOAD', RESERVE_LUA), s.script('LOAD', ADJUST_LUA)]);
          }),
        );
        this.everReady = true;
        return;
      } catch (err) {
        if (attempt === 0 && !this.outageReported) {
          this.outageReported = true;
          this.onConnectionError?.(err instanceof Error ? err : new Error(String(err)));
        }
        await new Promise((r) => setTimeout(r, 1_000).unref());
      }
    }
  }

  /** Creates the backend and waits (up to connectWaitMs) for the first connection and the scripts; never throws. */
  static async connect(options: RedisBackendOptions): Promise<RedisBudgetBackend> {
    const backend = new RedisBudgetBackend(options);
    const wait = options.connectWaitMs ?? 2_000;
    const t0 = Date.now();
    if (await whenReady(backend.redis, wait)) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        backend.loading,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(0, wait - (Date.now() - t0)));
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
    }
    return backend;
  }

  /** Connected now. */
  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /** Connected and scripts loaded at least once (what /readyz waits for). */
  get started(): boolean {
    return this.everReady;
  }

  /**
   * Before the first connection, a command waits for it (bounded by the enforcer's timeout): a
   * sidecar that just started must not refuse or admit unmetered because it is still connecting.
   * After that, a lost connection fails at once: the enforcer applies onUnavailable.
   */
  private async ensureReady(): Promise<void> {
    if (this.redis.status === 'ready') return;
    if (!this.everReady) {
      // One shared wait (not a listener per request while Redis is still away).
      this.firstConnection ??= whenReady(this.redis, 10_000).finally(() => (this.firstConnection = undefined));
      if (await this.firstConnection) return;
    }
    throw new Error(`redis is not connected (${this.redis.status})`);
  }

  async reserve(counters: readonly CounterReserve[], now: number, lease?: Lease): Promise<ReserveResult> {
    await this.ensureReady();
    const args: (string | number)[] = [];
    for (const c of counters) args.push(c.key);
    args.push(this.leaseSet, this.leaseHash, Math.floor(now), lease?.id ?? '', Math.ceil(lease?.deadline ?? 0), Math.max(1, Math.ceil((lease?.deadline ?? now) - now + LEASE_KEYS_GRACE_MS)));
    for (const c of counters) args.push(c.amount, c.limit, Math.max(1, Math.ceil(c.ttlMs)));
    const reply = asNumberArray(await this.scripts.llmSidecarBudgetReserve(counters.length + 2, ...args));
    return { ok: reply[0] === 1, values: reply.slice(1) };
  }

  async adjust(adjustments: readonly CounterAdjust[], _now: number, lease?: LeaseEnd): Promise<AdjustResult> {
    await this.ensureReady();
    const keys: string[] = adjustments.map((a) => a.key);
    const alertKeys: string[] = [];
    const argv: (string | number)[] = [adjustments.length, lease?.id ?? '', lease?.retry === true ? '1' : '0', 0];
    for (const a of adjustments) {
      let alertIndex = 0;
      if (a.alert !== undefined) {
        alertKeys.push(a.alert.key);
        alertIndex = alertKeys.length;
      }
      argv.push(Math.trunc(a.delta), Math.max(1, Math.ceil(a.ttlMs)), a.alert?.threshold ?? 0, alertIndex, Math.trunc(a.reserved ?? 0));
    }
    const reply = await this.scripts.llmSidecarBudgetAdjust(keys.length + alertKeys.length + 2, ...keys, ...alertKeys, this.leaseSet, this.leaseHash, ...argv);
    if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`unexpected reply from the budget script: ${JSON.stringify(reply)}`);
    return { values: asNumberArray(reply[0]), alerts: asNumberArray(reply[1]).map((i) => i - 1) };
  }

  async close(): Promise<void> {
    this.closed = true;
    try {
      if (this.redis.status === 'ready') await this.redis.quit();
      else this.redis.disconnect();
    } catch {
      this.redis.disconnect();
    }
  }
}
