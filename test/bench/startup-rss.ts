// Start-up memory of the sidecar (issue #18): what the process holds once it is ready and before
// any request, so a dependency loaded needlessly at start shows as megabytes here rather than as a
// vague "RSS went up" in the full bench. Starts `llm-sidecar proxy` a few times per telemetry mode
// against the fake provider, reads /proc/<pid>/status once /readyz answers (plus a settle), and
// prints the median RSS and its anonymous part per mode.
//   node --import tsx test/bench/startup-rss.ts [--modes off,embedded] [--runs 3]
// A second line per mode repeats the figures after one JSON request (what the first call loads).
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { memory, type Memory } from './procstat.ts';
import { startFakeProvider, startSidecar } from './sidecar.ts';

const MODES: Record<string, string> = {
  off: 'telemetry: { clickhouse: { mode: off } }',
  embedded: '',
};

const { values } = parseArgs({ options: { modes: { type: 'string', default: 'off,embedded' }, runs: { type: 'string', default: '3' } } });
const modes = (values.modes ?? '').split(',').filter(Boolean);
for (const m of modes) if (!(m in MODES)) throw new Error(`--modes: unknown ${m} (known: ${Object.keys(MODES).join(', ')})`);
const runs = Math.max(1, Number(values.runs) || 3);
/** After /readyz, lazy start-up work (timers, first GC) finishes; the figure is read after it. */
const SETTLE_MS = 1_000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (ms: Memory[]): string => `RSS ${median(ms.map((m) => m.rssMb)).toFixed(1)} MB, anon ${median(ms.map((m) => m.anonMb)).toFixed(1)} MB`;

const fake = await startFakeProvider();
try {
  for (const mode of modes) {
    const ready: Memory[] = [];
    const afterOne: Memory[] = [];
    for (let i = 0; i < runs; i++) {
      const config = ['providers:', `  openai: { type: openai, baseUrl: http://127.0.0.1:${fake.port}/v1 }`, MODES[mode]].join('\n');
      const sidecar = await startSidecar(`llm-sidecar proxy (${mode})`, config, { drainMs: 100, readyTimeoutMs: 60_000 });
      try {
        await sleep(SETTLE_MS);
        ready.push(memory(sidecar.child.pid));
        const res = await request(`${sidecar.origin}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
        });
        await res.body.dump();
        if (res.statusCode !== 200) throw new Error(`${mode}: the request answered ${res.statusCode}`);
        await sleep(SETTLE_MS);
        afterOne.push(memory(sidecar.child.pid));
      } finally {
        await sidecar.child.stop();
      }
    }
    process.stdout.write(`${mode.padEnd(9)} ready:         ${fmt(ready)} (median of ${runs})\n`);
    process.stdout.write(`${mode.padEnd(9)} after 1 call:  ${fmt(afterOne)}\n`);
  }
} finally {
  await fake.child.stop();
}
