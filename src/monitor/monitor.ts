// The resource monitor: a child process of clusterd (started by MonitorClient with fork) that
// hosts the resource agents, so that a hung or crashing agent cannot hang clusterd. It is also
// the node's watchdog: without pings from clusterd for the self-fence deadline it stops every
// resource, and when clusterd dies it kills every resource at once and exits.

import { decide } from './decisions.js';
import fs from 'node:fs';
import net from 'node:net';
import { AgentFailure, type AgentContext } from './agent.js';
import { createAgentRegistry } from './agent-registry.js';
import { Freezer } from './freezer.js';
import { monoMs, parseHeartbeatLine, type AgentOp, type CallData, type FromMonitor, type ResourceSpec, type ToMonitor } from './protocol.js';
import { msText } from '../core/duration-text.js';
import { setThreadNice } from './priority.js';

/**
 * Past a call's timeout the agent has this long to reject with its own reason (which says more
 * than "timed out") before the monitor answers for it. Well under the client's deadlock slack.
 */
const agentOverrunMs = 250;
/** Bound on the fence hook after clusterd died: the resources are dead already, the monitor must not linger. */
const fenceHookMaxMs = 2_000;
/** Bound on marking disks released after a fence (part of the fence hook's time). */
const releaseMaxMs = 1_000;

type ResultData = CallData | undefined;

let watchdog: NodeJS.Timeout | undefined;
let selfFenceMsSet = 0;
/** Send time (monoMs) of the newest ping: the watchdog judges its age, not when it was read. */
let lastPingSentMs = -Infinity;
/** The watchdog fired and fenced; the next ping re-arms it (clusterd may resume). */
let watchdogFired = false;
/** A line of the heartbeat channel longer than this is not ours: the connection is dropped. */
const heartbeatLineMaxBytes = 4_096;
let nodeName = '?';
/** Set by a fence, cleared by clusterd's 'unfence': `online` calls are refused in between (see protocol.ts). */
let refuseOnline = false;

const agents = createAgentRegistry({
  exited: (resource, code, signal) => send({ t: 'exited', resource, code, signal }),
  pgids: (resource, pgids) => send({ t: 'pids', resource, pgids }),
  log: (level, message, event, data) => send({ t: 'log', level, message, ...(event ? { event, data } : {}) }),
  lost: (resource, reason) => send({ t: 'lost', resource, reason }),
});
/** Backup writers: freeze and thaw calls, what is frozen (durably), thaw before any stop or exit. */
const freezer = new Freezer(agents, (level, message, event, data) => send({ t: 'log', level, message, ...(event ? { event, data } : {}) }));
// Every kill-all (fence, watchdog, clusterd gone, shutdown, crash) thaws first: a frozen filesystem
// must be thawed before it is unmounted, and a stopped process group resumed before it is killed.
agents.beforeKillAll(() => freezer.thawAllSync('stopping every resource'));

/** Messages per IPC message (a batch): one send and one parse in clusterd instead of hundreds. */
const batchMax = 256;
/** What this turn sends, in order: sent together once the turn ends. */
let outbox: FromMonitor[] = [];
let flushScheduled = false;

/**
 * Sends to clusterd if it is still there; `then` runs once the message is out (or at once when it
 * cannot be). Messages of one turn leave together, in order, as one batch; with `then`, at once.
 */
function send(msg: FromMonitor, then?: () => void): void {
  outbox.push(msg);
  if (then !== undefined) flush(then);
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(() => flush());
  }
}

function flush(then?: () => void): void {
  flushScheduled = false;
  const msgs = outbox;
  outbox = [];
  if (!process.connected || process.send === undefined || msgs.length === 0) {
    then?.();
    return;
  }
  for (let i = 0; i < msgs.length; i += batchMax) {
    const part = msgs.slice(i, i + batchMax);
    const last = i + batchMax >= msgs.length;
    process.send(part.length === 1 ? part[0]! : { t: 'batch', msgs: part }, undefined, {}, () => { if (last) then?.(); });
  }
}

function stderr(message: string): void {
  try {
    process.stderr.write(`clusterd resource monitor (pid ${process.pid}): ${message}\n`);
  } catch {
    // clusterd's stderr may be gone with clusterd: nothing to do.
  }
}

function onMessage(msg: ToMonitor): void {
  switch (msg.t) {
    case 'init':
      // The monitor's own files (logs, the frozen list, the heartbeat socket) are made 0600 explicitly.
      if (msg.umask !== undefined) process.umask(msg.umask);
      // Forked by clusterd's raised decision loop: back to clusterd's own priority before any
      // resource starts (they take this thread's nice), and the same for its probes and agents.
      if (msg.resourceNice !== undefined) {
        const error = setThreadNice(msg.resourceNice);
        if (error !== null) send({ t: 'log', level: 'warning', message: `resource monitor: could not set nice ${msg.resourceNice} for the resources it starts: ${error}` });
      }
      onInit(msg.selfFenceMs, msg.node, msg.heartbeatSocket);
      return;
    case 'ping':
      onPing(msg.sentMs ?? monoMs());
      return;
    case 'call':
      void onCall(msg.id, msg.op, msg.resource, msg.timeoutMs);
      return;
    case 'calls':
      for (const call of msg.calls) void onCall(call.id, call.op, call.resource, call.timeoutMs);
      return;
    case 'echo':
      send({ t: 'echo', seq: msg.seq });
      return;
    case 'fence':
      fence(msg.reason);
      return;
    case 'unfence':
      refuseOnline = false;
      return;
    case 'shutdown':
      onShutdown();
      return;
    default:
      send({ t: 'log', level: 'error', message: `resource monitor: unknown message ${JSON.stringify(msg)}` });
  }
}

function onInit(selfFenceMs: number, node: string, heartbeatSocket: string | undefined): void {
  nodeName = node;
  selfFenceMsSet = selfFenceMs;
  lastPingSentMs = monoMs(); // the deadline runs from now
  watchdogFired = false;
  armWatchdog(selfFenceMs);
  if (heartbeatSocket !== undefined) listenHeartbeat(heartbeatSocket);
  // Before anything else: thaw whatever an earlier monitor left frozen (bounded, never rejects).
  void freezer.recover().catch(() => undefined).finally(() => send({ t: 'ready', pid: process.pid }));
}

function armWatchdog(delayMs: number): void {
  clearTimeout(watchdog);
  watchdog = setTimeout(onWatchdogTimer, Math.max(1, delayMs));
}

/**
 * libuv runs expired timers before it reads pending input: after a busy stretch of this process
 * the timer would fire although pings wait unread. So the verdict waits for setImmediate, which
 * runs after this turn's poll phase has read what is pending. The ping's age is taken when the
 * timer fires, before that poll phase: every ping sent by then is in the socket when the poll
 * reads it, so the verdict says "no ping was sent for the deadline" exactly. An age taken later
 * would also count the time this process waited for a core between the poll and the verdict (a
 * host with saturated cores leaves it queued for hundreds of milliseconds), during which clusterd
 * kept pinging: a healthy node fenced for the monitor's own delay.
 */
function onWatchdogTimer(): void {
  const judgedAtMs = monoMs();
  setImmediate(() => {
    const ageMs = judgedAtMs - lastPingSentMs;
    const verdict = decide.watchdog(ageMs, selfFenceMsSet);
    // The next check is armed from now, not from the timer: the wait for a core between the timer
    // and this verdict must not push the deadline back.
    if (!verdict.fence) { armWatchdog(Math.min(verdict.rearmMs, selfFenceMsSet - (monoMs() - lastPingSentMs))); return; }
    watchdogFired = true;
    fence(`node '${nodeName}': no ping from clusterd for ${msText(selfFenceMsSet)} (self-fence deadline; the last one was sent ${msText(ageMs)} before the check)`);
  });
}

function onPing(sentMs: number): void {
  lastPingSentMs = Math.max(lastPingSentMs, sentMs);
  if (watchdogFired) {
    watchdogFired = false;
    armWatchdog(selfFenceMsSet);
  }
}

let heartbeatServer: net.Server | undefined;

/** The heartbeat channel (protocol.ts): pings and fences from clusterd's heartbeat thread. */
function listenHeartbeat(socketPath: string): void {
  heartbeatServer?.close();
  try { fs.unlinkSync(socketPath); } catch { /* none left by an earlier monitor */ }
  const server = net.createServer((conn) => {
    let buffered = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const msg = parseHeartbeatLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        if (msg?.t === 'ping') onPing(msg.sentMs);
        else if (msg?.t === 'fence') fence(msg.reason);
      }
      if (buffered.length > heartbeatLineMaxBytes) conn.destroy();
    });
    conn.on('error', () => undefined); // the heartbeat thread reconnects
  });
  server.on('error', (err) => send({ t: 'log', level: 'error', message: `resource monitor: heartbeat channel ${socketPath}: ${err.message}` }));
  // Only clusterd's user may connect (a ping from anyone else would keep the watchdog fed while
  // clusterd hangs; a fence from anyone else stops every resource): the socket is made 0600.
  const umask = process.umask(0o177);
  try { server.listen(socketPath, () => { try { fs.chmodSync(socketPath, 0o600); } catch { /* gone */ } }); } finally { process.umask(umask); }
  server.unref();
  process.once('exit', () => { try { fs.unlinkSync(socketPath); } catch { /* gone */ } });
  heartbeatServer = server;
}

/** Kills every resource at once, then tells clusterd. The monitor keeps running. */
function fence(reason: string): void {
  refuseOnline = true;
  const killed = agents.killAll();
  send({ t: 'fenced', reason, killed });
  void agents.releaseAll(releaseMaxMs);
}

/** Each call runs on its own: a slow one never holds up another. */
async function onCall(id: number, op: AgentOp, spec: ResourceSpec, timeoutMs: number): Promise<void> {
  const controller = new AbortController();
  const abortTimer = setTimeout(() => controller.abort(), timeoutMs);
  let overrunTimer: NodeJS.Timeout | undefined;
  const overrun = new Promise<never>((_resolve, reject) => {
    overrunTimer = setTimeout(() => reject(new Error(`${op} of resource '${spec.name}' did not finish within ${msText(timeoutMs)}`)), timeoutMs + agentOverrunMs);
  });
  try {
    const ctx = { signal: controller.signal };
    const data = await Promise.race([freezer.around(op, spec, ctx, () => runOp(op, spec, ctx)), overrun]);
    send(data === undefined ? { t: 'result', id, ok: true } : { t: 'result', id, ok: true, data });
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    send(err instanceof AgentFailure && err.kind !== 'restart' ? { t: 'result', id, ok: false, error, failure: err.kind } : { t: 'result', id, ok: false, error });
  } finally {
    clearTimeout(abortTimer);
    clearTimeout(overrunTimer);
  }
}

async function runOp(op: AgentOp, spec: ResourceSpec, ctx: AgentContext): Promise<ResultData> {
  const agent = agents.get(spec.type);
  /** An agent's warnings for this resource (low free space...) ride on the result. */
  const warned = (data: CallData | undefined): ResultData => {
    const warning = agent.takeWarning?.(spec.name);
    return warning === undefined ? data : { ...data, warning };
  };
  switch (op) {
    case 'online':
      if (decide.refuseOnline(refuseOnline)) throw new Error(`online of resource '${spec.name}' refused: this monitor fenced and clusterd has not acknowledged the fence yet (the call was decided before it)`);
      return warned(await agent.online(spec, ctx));
    case 'offline':
      await agent.offline(spec, ctx);
      return warned(undefined);
    case 'terminate':
      await agent.terminate(spec, ctx);
      return warned(undefined);
    case 'looksAlive':
    case 'isAlive': {
      const alive = await (op === 'looksAlive' ? agent.looksAlive(spec, ctx) : agent.isAlive(spec, ctx));
      // A check can see an exit before its own report reaches clusterd: the answer then says how it ended.
      const why = alive ? undefined : agent.deadReason?.(spec.name);
      return warned(why === undefined ? { alive } : { alive, why });
    }
    case 'maintOffline':
    case 'maintOnline': {
      const run = op === 'maintOffline' ? agent.maintOffline : agent.maintOnline;
      if (run === undefined) throw new Error(`resource type '${spec.type}' has no extended maintenance mode`);
      await run.call(agent, spec, ctx);
      return warned(undefined);
    }
    case 'validate':
      if (agent.validate === undefined) return undefined; // nothing to check beyond the configuration
      return { check: await agent.validate(spec, ctx) };
    case 'describe':
      if (agent.describe === undefined) throw new Error(`resource type '${spec.type}' has no agents to describe`);
      return agent.describe(spec, ctx);
    default:
      throw new Error(`unknown operation '${op as string}'`);
  }
}

/** Planned exit. Resources should be offline already; any left is killed rather than orphaned, its disks released. */
function onShutdown(): void {
  const left = agents.killAll();
  const message = left.length === 0 ? 'resource monitor exiting (shutdown)' : `resource monitor exiting (shutdown): killed resources still running: ${left.join(', ')}`;
  void agents.releaseAll(releaseMaxMs).finally(() => send({ t: 'log', level: left.length === 0 ? 'info' : 'warning', message }, () => process.exit(0)));
}

/** clusterd died (kill -9, crash): nobody watches the resources any more. Kill first, then the rest. */
function onDisconnect(): void {
  const killed = agents.killAll();
  clearTimeout(watchdog);
  setTimeout(() => process.exit(0), fenceHookMaxMs).unref();
  // Disks first: a takeover that follows the fenced lease then finds them released.
  void agents.releaseAll(releaseMaxMs).then(() => markFenced(killed)).finally(() => process.exit(0));
}

/** Records in the lease slot that this node's resources are stopped, so that a takeover need not wait for the TTL. */
async function markFenced(killed: string[]): Promise<void> {
  const env = process.env; // the monitor's settings: what clusterd put in its environment (client.ts)
  const { CLUSTERD_FENCE_DIR: dir, CLUSTERD_FENCE_ETCD: etcd, CLUSTERD_FENCE_NODE: node, CLUSTERD_FENCE_INCARNATION: incarnation } = env;
  stderr(`clusterd is gone: killed ${killed.length} resource(s)${killed.length > 0 ? `: ${killed.join(', ')}` : ''}`);
  if (etcd && node && incarnation) {
    try {
      // etcd's JSON gateway over node:http(s): no gRPC to load while the takeover waits.
      const mod = (await import(new URL('../store/etcd-fence.js', import.meta.url).href)) as {
        markLeaseFencedEtcd: (spec: string, node: string, incarnation: string, budgetMs: number, env: NodeJS.ProcessEnv) => Promise<boolean>;
      };
      const marked = await mod.markLeaseFencedEtcd(etcd, node, incarnation, fenceHookMaxMs / 2, env);
      stderr(marked ? `lease of node '${node}' marked fenced in etcd` : `lease of node '${node}' not marked fenced (another incarnation holds it)`);
    } catch (err) {
      stderr(`could not mark the lease of node '${node}' fenced in etcd: ${err instanceof Error ? err.message : String(err)}`);
    }
    return;
  }
  if (!dir || !node || !incarnation) return;
  try {
    // Resolved at run time: the lease-file store is optional for the monitor.
    const leaseFile = (await import(new URL('../store/lease-file.js', import.meta.url).href)) as {
      markLeaseFenced?: (dirPath: string, node: string, incarnation: string) => boolean;
    };
    if (leaseFile.markLeaseFenced === undefined) throw new Error('lease-file.js has no markLeaseFenced');
    const marked = leaseFile.markLeaseFenced(dir, node, incarnation);
    stderr(marked ? `lease of node '${node}' marked fenced` : `lease of node '${node}' not marked fenced (another incarnation holds it)`);
  } catch (err) {
    stderr(`could not mark the lease of node '${node}' fenced: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function main(): void {
  if (process.send === undefined) {
    stderr('must be started by clusterd (child_process.fork), not directly');
    process.exit(2);
  }
  // clusterd orchestrates shutdown: Ctrl-C reaches the whole foreground group, and the
  // monitor must outlive a clusterd that is still draining.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
  process.stderr.on('error', () => undefined); // EPIPE once clusterd is gone
  process.on('message', (msg) => onMessage(msg as ToMonitor));
  process.on('disconnect', onDisconnect);
  // A bug here must not leave resources running unwatched.
  process.on('uncaughtException', (err) => {
    agents.killAll();
    stderr(`crashed, every resource killed: ${err.stack ?? err.message}`);
    process.exit(70);
  });
}

main();
