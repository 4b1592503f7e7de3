// One "sidecar replica" for the multi-process test: its own process, its own Redis connection,
// the same limits. Protocol over IPC: parent sends {url, keyPrefix, count}; the child answers
// {ready}; parent sends {go}; the child fires `count` concurrent reservations and answers
// {admitted}, then exits.
import { BudgetsSchema } from '../../shared/config/budgets.ts';
import { createBudgetEnforcer, type BudgetEnforcer } from '../../proxy/budget/enforcer.ts';

interface Setup {
  url: string;
  keyPrefix: string;
  count: number;
  userDailyTokens: number;
  tokens: number;
}

let enforcer: BudgetEnforcer | undefined;
let setup: Setup | undefined;

function send(msg: unknown): void {
  process.send?.(msg);
}

process.on('message', (msg: { setup?: Setup; go?: boolean }) => {
  void (async () => {
    try {
      if (msg.setup) {
        setup = msg.setup;
        const config = BudgetsSchema.parse({
          backend: { type: 'redis', url: setup.url, keyPrefix: setup.keyPrefix, onUnavailable: 'fail-closed', timeoutMs: 2_000 },
          tiers: { t: { userDailyTokens: setup.userDailyTokens } },
          defaultTier: 't',
        });
        enforcer = await createBudgetEnforcer(config);
        // Warm the connection and the script cache so both replicas start on equal terms.
        await enforcer.reserve({ tenant: 'warmup', user: String(process.pid), route: 'r', tokens: 0 });
        send({ ready: true });
      } else if (msg.go && enforcer && setup) {
        const s = setup;
        const results = await Promise.all(Array.from({ length: s.count }, () => enforcer!.reserve({ tenant: 'acme', user: 'shared', route: 'chat', tokens: s.tokens })));
        const unavailable = results.filter((r) => r.rejected && r.kind === 'unavailable').length;
        send({ admitted: results.filter((r) => !r.rejected).length, unavailable });
        await enforcer.close();
        process.exit(0);
      }
    } catch (err) {
      send({ error: String(err) });
      process.exit(1);
    }
  })();
});
