// Scheduling priority (nice) of single threads. Linux schedules threads apart and keeps a nice
// value per thread (setpriority on a thread id), so clusterd can raise its heartbeat thread and
// its decision loop without raising what they start: a thread created or a process forked takes
// the nice of the thread that made it, and the resource monitor sets its own back to what
// clusterd was started with before it starts any resource.

import fs from 'node:fs';
import os from 'node:os';

/** The calling thread's Linux thread id; null where threads have no id of their own to set (not Linux). */
export function threadId(): number | null {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

/** The calling thread's nice value (null where it cannot be read per thread). */
export function threadNice(): number | null {
  const tid = threadId();
  if (tid === null) return null;
  try {
    return os.getPriority(tid);
  } catch {
    return null;
  }
}

/**
 * Sets the calling thread's nice value. Returns null when done (or where threads have no nice of
 * their own), else why not: a lower nice needs CAP_SYS_NICE or a raised RLIMIT_NICE.
 */
export function setThreadNice(nice: number): string | null {
  const tid = threadId();
  if (tid === null) return null;
  try {
    os.setPriority(tid, nice);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Whether this process leads its session (systemd starts every service so; a clusterd started from a
 * shell or by a test runner shares that session). Only a session leader raises its session group:
 * otherwise the raise would lift the operator's shell and everything else started from it, for as
 * long as that session lasts.
 */
export function leadsSession(): boolean {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[3]) === process.pid; // after "(comm)": state ppid pgrp session
  } catch {
    return false;
  }
}

/** The nice value of this process's session group (Linux autogroup); null where sessions are not scheduled as groups. */
export function sessionGroupNice(): number | null {
  try {
    const m = /nice (-?\d+)/.exec(fs.readFileSync('/proc/self/autogroup', 'utf8'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Raises the scheduling group of this process's session (Linux autogroup: the kernel first shares
 * the cores among sessions, then among the threads of each by their nice, so a thread's own nice
 * cannot lift it above a busy neighbour session). Returns null when done (or already at least as
 * high), else why not. Resources run detached, each in a session of its own: they do not share it.
 */
export function raiseSessionGroup(nice: number): string | null {
  const current = sessionGroupNice();
  if (current === null || current <= nice) return null;
  try {
    fs.writeFileSync('/proc/self/autogroup', String(nice));
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
