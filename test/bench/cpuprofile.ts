// Reading a V8 CPU profile (the .cpuprofile files `node --cpu-prof` writes) into what a person
// acts on: the functions with the most self time, and self time summed per package or source folder,
// as shares of the time the thread was busy (idle excluded). Used by profile.ts; no dependency, so
// the same summary can be printed for a profile taken anywhere (`readProfile` + `summariseProfile`).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
/** The parts of the .cpuprofile JSON (Chrome DevTools Protocol `Profiler.Profile`) read here. */
export interface CpuProfile {
  nodes: ProfileNode[];
  /** µs, monotonic clock. */
  startTime: number;
  samples: number[];
  /** µs between consecutive samples; the first is from the profile's start. */
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  us: number;
  share: number;
}

export interface ProfileSummary {
  /** Sampled time the thread was not idle, µs. */
  busyUs: number;
  functions: SelfTime[];
  areas: SelfTime[];
}

/** Where a frame's code lives: an npm package, node core, a folder of this repo, or the VM itself. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : 'native/builtin';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  if (url.startsWith('node:')) return 'node core';
  const own = /\/(proxy|shared|evaluator|cli|simulator|dashboards|bin)\/(?:([^/]+)\/)?/.exec(url);
  if (own) return own[2] ? `${own[1]}/${own[2]}` : (own[1] as string);
  return 'other';
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '').replace(/^.*\/(proxy|shared|evaluator|cli|simulator|dashboards|bin)\//, '$1/');
}

/**
 * Self time per function and per area. `window` (µs on the monotonic clock, the one
 * `process.hrtime` reads in any process of the machine) keeps only the samples taken inside it:
 * the load, without the start-up's compilation or the shutdown.
 */
export function summariseProfile(profile: CpuProfile, opts: { top?: number; window?: { fromUs: number; toUs: number } } = {}): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let busyUs = 0;
  let at = profile.startTime;
  // A sample lasts until the next one (DevTools' reading): sample i gets timeDeltas[i + 1].
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (opts.window && (at < opts.window.fromUs || at > opts.window.toUs)) continue;
    const node = byId.get(profile.samples[i] as number);
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (!node || node.callFrame.functionName === '(idle)' || us <= 0) continue;
    busyUs += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = url ? `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}` : functionName || '(anonymous)';
    fns.set(fn, (fns.get(fn) ?? 0) + us);
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const ranked = (m: Map<string, number>, n: number): SelfTime[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, us, share: busyUs > 0 ? us / busyUs : 0 }));
  return { busyUs, functions: ranked(fns, opts.top ?? 25), areas: ranked(areas, 15) };
}

/**
 * The summary as text. V8 samples on wall time: a sample's duration is the time to the next one,
 * CPU or not, so on an oversubscribed machine the µs exceed CPU time while the shares stay sound.
 * Line numbers are those of the JavaScript V8 ran (tsx's output for our .ts files).
 */
export function formatSummary(s: ProfileSummary, perRequestOf?: number): string {
  const per = (us: number): string => (perRequestOf ? `${(us / perRequestOf).toFixed(1).padStart(7)} µs/req` : '');
  const rows = (xs: SelfTime[]): string => xs.map((x) => `  ${(x.share * 100).toFixed(1).padStart(5)} %  ${per(x.us)}  ${x.name}`).join('\n');
  return [
    `busy (sampled wall time, idle excluded): ${(s.busyUs / 1e6).toFixed(2)} s${perRequestOf ? ` = ${(s.busyUs / perRequestOf).toFixed(1)} µs per request` : ''}`,
    'self time by area:',
    rows(s.areas),
    'top functions by self time:',
    rows(s.functions),
  ].join('\n');
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}
