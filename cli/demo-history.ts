// The demo's simulated past: a demo runs for a minute, but the weekly digest and the quality-drop
// alert compare weeks. So the demo writes five weeks of helpfulness scores for three of its
// features (service `demo-shop-history`, explanation "simulated history", kept apart from the live
// run's service) in which `onboarding` holds at ~0.8 until this week and dips to ~0.45 — the
// regression the live run's short onboarding answers continue. Deterministic; printed as simulated.
import { LLM_CALLS as C, LLM_EVALUATIONS as E, TABLE_LLM_CALLS, TABLE_LLM_EVALUATIONS } from '../shared/clickhouse/schema.ts';
import type { ClickHouseStore } from '../shared/clickhouse/store.ts';

export const HISTORY_SERVICE = 'demo-shop-history';
const DAY = 86_400_000;
const FEATURES = [
  { feature: 'support-bot', model: 'support', base: 0.82 },
  { feature: 'doc-search', model: 'search', base: 0.74 },
  { feature: 'onboarding', model: 'gpt-4o-mini', base: 0.8, dipTo: 0.45 },
] as const;

const toNs = (ms: number) => `${Math.floor(ms / 1000)}.${String(Math.floor(ms % 1000)).padStart(3, '0')}000000`;

/** Writes the history days not written yet; returns the scores written (0 when it is all there). */
export async function writeDemoHistory(store: ClickHouseStore, database: string, now = Date.now()): Promise<number> {
  const calls: object[] = [];
  const evals: object[] = [];
  const day0 = Math.floor(now / DAY) * DAY;
  // A demo run again (another day) adds only the days after the history already there: never twice.
  const [last] = await store.query<{ ms: string }>(
    `SELECT toString(toUnixTimestamp64Milli(max(${E.Timestamp}))) AS ms FROM ${database}.${TABLE_LLM_EVALUATIONS} WHERE ${E.ServiceName} = {s:String}`,
    { s: HISTORY_SERVICE },
  );
  const after = Number(last?.ms ?? 0);
  FEATURES.forEach((f, fi) => {
    // Six scores a day, from 34 days ago to yesterday (the live run is today).
    for (let d = 34; d >= 1; d--) {
      for (let k = 0; k < 6; k++) {
        const at = day0 - d * DAY + (k * 4 + 1) * 3_600_000;
        if (at <= after) continue;
        const wobble = (((d * 7 + k * 3 + fi) % 9) - 4) * 0.05;
        const mean = 'dipTo' in f && d < 7 ? f.dipTo : f.base;
        const points = Math.min(5, Math.max(1, Math.round(1 + 4 * (mean + wobble))));
        const id = `${fi}${(at / 1000).toString(16)}`;
        const traceId = `de${id.padStart(30, '0')}`;
        const spanId = `de${id.padStart(14, '0')}`;
        calls.push({ [C.Timestamp]: toNs(at), [C.TraceId]: traceId, [C.SpanId]: spanId, [C.ServiceName]: HISTORY_SERVICE, [C.Feature]: f.feature, [C.RequestModel]: f.model, [C.EvalSampled]: 1 });
        evals.push({
          [E.Timestamp]: toNs(at),
          [E.EvaluatedAt]: ((at + 60_000) / 1000).toFixed(3),
          [E.TraceId]: traceId,
          [E.SpanId]: spanId,
          [E.ServiceName]: HISTORY_SERVICE,
          [E.RequestModel]: f.model,
          // The call's feature on the score, as the evaluator writes it (migration 014): the quality-drop
          // alert reads it there; without it the history counted as feature "(none)".
          [E.Feature]: f.feature,
          [E.Evaluator]: 'helpfulness',
          [E.EvaluatorVersion]: '1',
          [E.ScoreValue]: (points - 1) / 4,
          [E.ScoreLabel]: `${points}/5`,
          [E.Explanation]: 'simulated history (llm-sidecar demo)',
        });
      }
    }
  });
  if (evals.length === 0) return 0;
  await store.insert(`${database}.${TABLE_LLM_CALLS}`, calls, { dedupToken: `demo-history-calls-${day0}` });
  await store.insert(`${database}.${TABLE_LLM_EVALUATIONS}`, evals, { dedupToken: `demo-history-evals-${day0}` });
  return evals.length;
}
