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
