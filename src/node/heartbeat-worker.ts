// clusterd's heartbeat thread (started by WorkerHeartbeat in heartbeat.ts): renews the lease on
// its own connection to the store and feeds the resource monitor's watchdog over its own socket,
// so that neither waits behind the main thread's work. It fences (asks the monitor to kill every
// resource) when the lease cannot be renewed, and stops renewing and fences when the main
// thread's decision loop has made no progress for decisionStallMs (core/self-fence.ts).

import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { setThreadNice } from '../monitor/priority.js';
import { heartbeatLine, monoMs } from '../monitor/protocol.js';
import { openLeaseRenewer } from '../store/lease-renewer.js';
import {
  HeartbeatLoop, causeSlots, fromUs, renewEveryBeats, shared, toUs,
  type FromHeartbeatWorker, type HeartbeatWorkerData, type ToHeartbeatWorker,
} from './heartbeat.js';

const data = workerData as HeartbeatWorkerData;
const mem = new BigInt64Array(data.memory);
const post = (msg: FromHeartbeatWorker): void => parentPort?.postMessage(msg);

/** The monitor's heartbeat channel, reconnected at the next beat when it breaks (a monitor restart). */
let conn: net.Socket | null = null;
let connected = false;
/** Say that the channel is down once per outage, not every beat. */
let downSaid = false;
/** A planned stop is under way: the channel closes on purpose. */
let stopping = false;

function connect(): void {
  if (conn !== null) return;
  const socket = net.connect(data.socketPath);
  conn = socket;
  socket.on('connect', () => {
    connected = true;
    if (downSaid) post({ t: 'log', level: 'info', message: `heartbeat channel to the resource monitor (${data.socketPath}) is up again` });
    downSaid = false;
  });
  socket.on('error', () => undefined); // 'close' follows
  socket.on('close', () => {
    if (conn !== socket) return;
    conn = null;
    connected = false;
    if (!downSaid && !stopping) post({ t: 'log', level: 'warning', message: `heartbeat channel to the resource monitor (${data.socketPath}) is down: reconnecting every heartbeat` });
    downSaid = true;
  });
  socket.on('data', () => undefined);
}

function sendLine(line: string): void {
  if (conn === null) connect();
  if (connected) conn?.write(line); // else a connection is under way: this beat's line is lost, the watchdog tolerates it
}

/**
 * The heartbeat thread's scheduling priority (nice), the highest there is. A beat costs well under
 * a millisecond of CPU, ten times a second; at normal priority a host whose cores are saturated by
 * other work (builds, this node's own spawns) leaves a waking thread queued behind every runnable
 * task, 800 ms and more at a load of 30 on 2 cores, and that fences a healthy node. Raised on this
 * thread only (Linux schedules threads apart): the decision loop keeps its normal priority.
 */
const heartbeatNice = -20;

/** Raises this thread's priority; says why when it cannot. */
function raisePriority(): void {
  const error = setThreadNice(heartbeatNice);
  if (error !== null) post({ t: 'log', level: 'warning', message: `the heartbeat thread runs at normal priority (could not set nice ${heartbeatNice}: ${error}): on a host whose cores are saturated it may miss renewals and fence this node; give clusterd CAP_SYS_NICE (or run it as root, or raise its RLIMIT_NICE)` });
}

async function main(): Promise<void> {
  raisePriority();
  const renewer = await openLeaseRenewer(data.renewer);
  let renewErrorSaid = '';
  const loop = new HeartbeatLoop({
    nowMs: monoMs,
    renew: async (counter, state) => {
      const sentMs = monoMs();
      const r = await renewer.renew(counter, state);
      // The slots and change version read with the renewal: the decision loop's cycle uses them instead of reading its own.
      if (r.ok && r.view) post({ t: 'view', view: r.view, sentMs, arrivedMs: monoMs() });
      if (!r.ok && r.error !== renewErrorSaid) post({ t: 'log', level: 'warning', message: r.error });
      renewErrorSaid = r.ok ? '' : r.error;
      return r.ok;
    },
    ping: (sentMs) => sendLine(heartbeatLine({ t: 'ping', sentMs })),
    fence: (reason) => sendLine(heartbeatLine({ t: 'fence', reason })),
    lastProgressMs: () => fromUs(Atomics.load(mem, shared.lastProgressUs)),
    leaseState: () => (Atomics.load(mem, shared.state) === 1n ? 'draining' : 'running'),
    fenced: (cause, forMs) => {
      Atomics.store(mem, causeSlots[cause].forMs, BigInt(Math.round(forMs)));
      Atomics.add(mem, causeSlots[cause].count, 1n);
    },
    renewed: (atMs, gapMs) => {
      Atomics.store(mem, shared.lastRenewOkUs, toUs(atMs));
      const gapUs = toUs(gapMs);
      if (gapUs > Atomics.load(mem, shared.renewGapMaxUs)) Atomics.store(mem, shared.renewGapMaxUs, gapUs);
    },
  }, data.timing, renewEveryBeats(data.timing, data.renewer));
  connect();
  loop.beat();
  const timer = setInterval(() => loop.beat(), data.timing.heartbeatIntervalMs);
  parentPort?.on('message', (msg: ToHeartbeatWorker) => {
    if (msg.t !== 'stop') return;
    clearInterval(timer);
    stopping = true;
    void loop.final(msg.state).finally(() => {
      conn?.destroy();
      void renewer.close().finally(() => post({ t: 'stopped' }));
    });
  });
}

main().catch((err: unknown) => post({ t: 'failed', error: `heartbeat thread could not start: ${err instanceof Error ? err.stack ?? err.message : String(err)}` }));
