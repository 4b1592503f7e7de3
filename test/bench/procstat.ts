// CPU time and memory of a child process, read from /proc (Linux only): the forwarder's own cost,
// independent of what the load generator and the fake upstream spend on the same cores.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** `getconf CLK_TCK` (100 on practically every Linux); /proc/<pid>/stat counts in these ticks. */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU time consumed so far by `pid`, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) is parenthesised and may contain spaces: split after its closing paren.
  // What follows starts at field 3 (state); utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return (ticks / clockTicks()) * 1e6;
}

export interface Memory {
  rssMb: number;
  /**
   * The anonymous part of RSS (heap, stacks, buffers): memory only this process uses. The rest is
   * file-backed (code pages of the binary and of native libraries such as the embedded ClickHouse),
   * clean and shared with the page cache.
   */
  anonMb: number;
  /** Peak RSS since the process started (VmHWM). */
  peakRssMb: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, anonMb: kb('RssAnon') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}
