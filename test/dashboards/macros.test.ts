// The macro expander against the ClickHouse plugin's own expansions (pkg/macros/macros.go) and
// Grafana's variable formatting, so the SQL the other tests run is the SQL Grafana would send.
import { describe, expect, it } from 'vitest';
import { expandBackendMacros, expandGrafanaSql, expandVariables } from '../../dashboards/macros.ts';

const from = new Date('2025-03-01T10:00:00.250Z');
const to = new Date('2025-03-02T12:30:45.900Z');
const fromS = Math.floor(from.getTime() / 1000);
const toS = Math.floor(to.getTime() / 1000);

describe('backend macros (as the plugin expands them)', () => {
  it('$__timeFilter, $__timeFilter_ms, $__dateFilter, $__dateTimeFilter', () => {
    expect(expandBackendMacros('WHERE $__timeFilter(Timestamp)', { from, to })).toBe(`WHERE Timestamp >= toDateTime(${fromS}) AND Timestamp <= toDateTime(${toS})`);
    expect(expandBackendMacros('$__timeFilter_ms(t)', { from, to })).toBe(`t >= fromUnixTimestamp64Milli(${from.getTime()}) AND t <= fromUnixTimestamp64Milli(${to.getTime()})`);
    expect(expandBackendMacros('$__dateFilter(d)', { from, to })).toBe("d >= toDate('2025-03-01') AND d <= toDate('2025-03-02')");
    expect(expandBackendMacros('$__dt(d, t)', { from, to })).toBe(`(d >= toDate('2025-03-01') AND d <= toDate('2025-03-02')) AND (t >= toDateTime(${fromS}) AND t <= toDateTime(${toS}))`);
  });

  it('$__fromTime, $__toTime (+ _ms), $__interval_s (whole seconds, at least 1), $__timeInterval', () => {
    expect(expandBackendMacros('$__fromTime $__toTime $__fromTime_ms $__toTime_ms', { from, to })).toBe(`toDateTime(${fromS}) toDateTime(${toS}) fromUnixTimestamp64Milli(${from.getTime()}) fromUnixTimestamp64Milli(${to.getTime()})`);
    expect(expandBackendMacros('$__interval_s', { from, to, intervalSeconds: 0.2 })).toBe('1');
    expect(expandBackendMacros('$__interval_s', { from, to, intervalSeconds: 30.9 })).toBe('30');
    expect(expandBackendMacros('$__timeInterval(Minute)', { from, to, intervalSeconds: 300 })).toBe('toStartOfInterval(toDateTime(Minute), INTERVAL 300 second)');
    expect(expandBackendMacros('$__timeInterval_ms(t)', { from, to, intervalSeconds: 2 })).toBe('toStartOfInterval(toDateTime64(t, 3), INTERVAL 2000 millisecond)');
  });

  it('takes nested parentheses in arguments and leaves the rest of the SQL alone', () => {
    expect(expandBackendMacros("SELECT $__timeInterval(toDateTime(x, 'UTC')) AS time WHERE $__timeFilter(c.Timestamp) AND y = '$'", { from, to, intervalSeconds: 60 })).toBe(
      `SELECT toStartOfInterval(toDateTime(toDateTime(x, 'UTC')), INTERVAL 60 second) AS time WHERE c.Timestamp >= toDateTime(${fromS}) AND c.Timestamp <= toDateTime(${toS}) AND y = '$'`,
    );
  });

  it('refuses browser-only and unknown macros, and wrong argument counts', () => {
    expect(() => expandBackendMacros('$__conditionalAll(x IN ($v), $v)', { from, to })).toThrow(/not a backend macro/);
    expect(() => expandBackendMacros('$__timeFilter(a, b)', { from, to })).toThrow(/expects 1/);
  });
});

describe('template variables (as the browser formats them)', () => {
  const variables = {
    service: { selected: ['checkout-api', "o'brien"] },
    tenant: { selected: 'all' as const, allValue: "'__all__'" },
    model: { selected: 'all' as const, options: ['a', 'b'] },
  };

  it('singlequote quotes and escapes each value; a custom all value is inserted as written', () => {
    expect(expandVariables('x IN (${service:singlequote})', variables)).toBe("x IN ('checkout-api','o\\'brien')");
    expect(expandVariables("('__all__' IN (${tenant:singlequote}))", variables)).toBe("('__all__' IN ('__all__'))");
    expect(expandVariables('(${model:singlequote})', variables)).toBe("('a','b')");
  });

  it('refuses undefined variables, unformatted ones and browser builtins', () => {
    expect(() => expandVariables('${route:singlequote}', variables)).toThrow(/not defined/);
    expect(() => expandVariables('$service', variables)).toThrow(/no format/);
    expect(() => expandVariables('${__user.login}', variables)).toThrow();
  });

  it('variables first, then macros', () => {
    expect(expandGrafanaSql('$__timeFilter(T) AND S IN (${service:singlequote})', { from, to, variables })).toBe(`T >= toDateTime(${fromS}) AND T <= toDateTime(${toS}) AND S IN ('checkout-api','o\\'brien')`);
  });
});
