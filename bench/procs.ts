// What the benchmarks read about real processes from /proc: the memory of a clusterd and of its
// resource monitor, and the resource processes left running in a directory.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A process's resident set (VmRSS) in MiB, 0 when it is gone. */
export function vmRssMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The pid of a clusterd's resource monitor (its child running monitor.js), or null. */
export function monitorPid(pid: number): number | null {
  let children: number[];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return null;
  }
  for (const child of children) {
    try {
      if (readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('monitor')) return child;
    } catch {
      // gone
    }
  }
  return null;
}

/** RSS of a clusterd and of its resource monitor, in MiB (NaN for a clusterd not started). */
export function rssParts(pid: number | undefined): { clusterd: number; monitor: number } {
  if (pid === undefined) return { clusterd: NaN, monitor: NaN };
  const mon = monitorPid(pid);
  return { clusterd: vmRssMiB(pid), monitor: mon === null ? 0 : vmRssMiB(mon) };
}

/** RSS of a clusterd and its resource monitor together, in MiB. */
export function rssMiB(pid: number | undefined): number {
  const p = rssParts(pid);
  return p.clusterd + p.monitor;
}

/** SIGKILLs every process whose working directory is `dir` (the resources a benchmark ran there); returns how many. */
export function killInDir(dir: string): number {
  let left = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) !== dir) continue;
      process.kill(Number(entry), 'SIGKILL');
      left++;
    } catch {
      // gone, or not ours to read
    }
  }
  return left;
}

/** CPU time (user + system, seconds) a process used itself, its children not counted; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    // Fields after the command (which may hold spaces), from ") ": state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ, which /proc/PID/stat counts in: 100 on every architecture Node.js runs on. */
const ticksPerSecond = 100;

/** CPU seconds of a clusterd (all its threads) and of its resource monitor so far. */
export function cpuParts(pid: number | undefined): { clusterd: number; monitor: number } {
  if (pid === undefined) return { clusterd: NaN, monitor: NaN };
  const mon = monitorPid(pid);
  return { clusterd: cpuSeconds(pid), monitor: mon === null ? 0 : cpuSeconds(mon) };
}
