// The backup state machine (core/backup.ts) and the writer properties (core/writer-props.ts):
// config-time validation, the freeze/thaw protocol step by step, the freeze limit, every refusal
// and failure path, and property tests over random interleavings of freeze, writer answers, thaw,
// timer ticks, failures and moves against a model of the resource monitor.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyUpdate, emptyConfig } from './config.js';
import {
  activeBackupOf, backupView, emptyBook, nextWakeMs, reconcileBackups, recentBackupsMax, requestFreeze, requestThaw, thawAttemptsMax, thawRetryDelayMs,
  tick, writerAnswered, type BackupAction, type BackupBook, type BackupContext,
} from './backup.js';
import type { LocalGroup, LocalResource, LocalState } from './local.js';
import type { OwnershipRec } from './placement.js';
import type { ClusterConfig, ConfigUpdate, PrivProps, ResourceState } from './types.js';
import { checkWriterPriv, describeWriter, writerSpec } from './writer-props.js';

// ---- fixtures ---------------------------------------------------------------------------------

function fold(updates: ConfigUpdate[], from: ClusterConfig = emptyConfig('c')): ClusterConfig {
  let c = from;
  for (const u of updates) {
    const r = applyUpdate(c, u);
    if (!r.ok) assert.fail(`${u.op}: ${r.error.code} ${r.error.message}`);
    c = r.value;
  }
  return c;
}

const diskPriv: PrivProps = { device: '/dev/loop7', fstype: 'ext4', mountPoint: '/mnt/data', freeze: 'fsfreeze' };

/** Groups G and H, each: `X-data` (disk, fsfreeze) <- `X-db` (process, SIGSTOP) <- `X-web` (process, not a writer). */
function config(): ClusterConfig {
  const ups: ConfigUpdate[] = [{ op: 'node-add', node: 'n1' }, { op: 'node-add', node: 'n2' }];
  for (const g of ['G', 'H']) {
    const p = g.toLowerCase();
    ups.push(
      { op: 'group-create', group: g },
      { op: 'resource-create', resource: `${p}-data`, group: g, type: 'disk', priv: { ...diskPriv, mountPoint: `/mnt/${p}` }, desired: 'online' },
      { op: 'resource-create', resource: `${p}-db`, group: g, type: 'process', priv: { command: '/bin/db', freezeSignal: 'SIGSTOP' }, dependsOn: [`${p}-data`], desired: 'online' },
      { op: 'resource-create', resource: `${p}-web`, group: g, type: 'process', priv: { command: '/bin/web' }, dependsOn: [`${p}-db`], desired: 'online' },
    );
  }
  return fold(ups);
}

function localGroup(config: ClusterConfig, group: string, epoch: number, state: ResourceState = 'Online'): LocalGroup {
  const resources: Record<string, LocalResource> = {};
  for (const r of Object.values(config.resources).filter((x) => x.group === group)) {
    resources[r.name] = {
      spec: { name: r.name, group, type: r.type, props: r.props, priv: r.priv }, state, op: null, check: null,
      restartTimesMs: [], restartAtMs: null, lastLooksAliveMs: 0, lastIsAliveMs: 0,
    };
  }
  return { epoch, resources, released: false, failoverRequested: false, fenced: false };
}

class World {
  book: BackupBook = emptyBook();
  now = 1_000;
  config = config();
  own: Record<string, OwnershipRec> = {
    G: { group: 'G', node: 'n1', epoch: 3, term: 1, phase: 'run' },
    H: { group: 'H', node: 'n1', epoch: 5, term: 1, phase: 'run' },
  };
  local: LocalState = { groups: { G: localGroup(this.config, 'G', 3), H: localGroup(this.config, 'H', 5) }, nextCallId: 1 };
  shuttingDown = false;
  ids = 0;

  ctx(): BackupContext {
    return { self: 'n1', nowMs: this.now, wallMs: 1_700_000_000_000 + this.now, config: this.config, ownership: this.own, local: this.local, shuttingDown: this.shuttingDown };
  }
  freeze(target = 'G', limitMs = 1_000) {
    return requestFreeze(this.book, this.ctx(), { id: `b${++this.ids}`, target, limitMs });
  }
}

type Call = Extract<BackupAction, { kind: 'writer-call' }>;
const calls = (as: BackupAction[]): Call[] => as.filter((a): a is Call => a.kind === 'writer-call');
const brief = (as: BackupAction[]): string[] => calls(as).map((c) => `${c.op} ${c.resource}`);
const events = (as: BackupAction[]): string[] => as.filter((a) => a.kind === 'event').map((a) => (a as { event: string }).event);
const eventOf = (as: BackupAction[], name: string) => as.find((a): a is Extract<BackupAction, { kind: 'event' }> => a.kind === 'event' && a.event === name);

// ---- writer properties ------------------------------------------------------------------------

describe('writer properties', () => {
  const check = (type: 'process' | 'disk' | 'ip', priv: PrivProps) => checkWriterPriv('r', type, priv);
  const refusedAt = (type: 'process' | 'disk' | 'ip', priv: PrivProps, key: string) => {
    const r = check(type, priv);
    assert.ok(!r.ok, `expected a refusal of ${JSON.stringify(priv)}`);
    assert.equal(r.error.code, 'BAD_PROPERTY');
    assert.equal(r.error.path, `resources.r.priv.${key}`, r.error.message);
    return r.error;
  };

  test('accepted: signals (thawSignal defaults to SIGCONT after SIGSTOP), commands as strings or lists, fsfreeze on a block-device disk', () => {
    for (const priv of [
      { freezeSignal: 'SIGSTOP' }, { freezeSignal: 'stop' }, { freezeSignal: 'SIGTSTP', thawSignal: 'cont' },
      { freezeSignal: 'SIGUSR1', thawSignal: 'SIGUSR2', freezeTimeoutMs: 5_000 },
      { freezeCommand: '/usr/local/bin/db-freeze --all', thawCommand: ['/usr/local/bin/db-thaw'] },
    ] as PrivProps[]) assert.ok(check('process', { command: '/bin/x', ...priv }).ok, JSON.stringify(priv));
    assert.ok(check('disk', diskPriv).ok);
    assert.ok(check('process', { command: '/bin/x' }).ok, 'not a writer: nothing to check');
    assert.ok(check('ip', { address: '10.0.0.1' }).ok);
  });

  test('refused with the property that is wrong', () => {
    refusedAt('process', { freezeSignal: 'SIGTERM' }, 'freezeSignal');
    refusedAt('process', { freezeSignal: 'SIGCONT' }, 'freezeSignal');
    refusedAt('process', { freezeSignal: 'SIGUSR1' }, 'freezeSignal'); // needs a thawSignal
    refusedAt('process', { freezeSignal: 'SIGSTOP', thawSignal: 'SIGUSR1' }, 'thawSignal');
    refusedAt('process', { freezeSignal: 'SIGUSR1', thawSignal: 'SIGUSR1' }, 'thawSignal');
    refusedAt('process', { thawSignal: 'SIGCONT' }, 'thawSignal');
    refusedAt('process', { freezeCommand: '/bin/f' }, 'thawCommand');
    refusedAt('process', { freezeCommand: '  ', thawCommand: '/bin/t' }, 'freezeCommand');
    refusedAt('process', { freezeSignal: 'SIGSTOP', freezeCommand: '/bin/f', thawCommand: '/bin/t' }, 'freezeSignal');
    refusedAt('process', { freezeTimeoutMs: 1_000 }, 'freezeTimeoutMs');
    refusedAt('process', { freezeSignal: 'SIGSTOP', freezeTimeoutMs: 50 }, 'freezeTimeoutMs');
    refusedAt('process', { freeze: 'fsfreeze' }, 'freeze');
    refusedAt('disk', { path: '/srv/lun', freeze: 'fsfreeze' }, 'freeze');
    refusedAt('disk', { ...diskPriv, freeze: 'yes' }, 'freeze');
    refusedAt('disk', { ...diskPriv, freezeSignal: 'SIGSTOP' }, 'freezeSignal');
    const e = refusedAt('ip', { freezeSignal: 'SIGSTOP' }, 'freezeSignal');
    assert.match(e.message, /no freeze or thaw action/);
  });

  test('the configuration refuses bad writer properties on create and on /priv, and keeps good ones', () => {
    const base = fold([{ op: 'node-add', node: 'n1' }, { op: 'group-create', group: 'G' }]);
    const bad = applyUpdate(base, { op: 'resource-create', resource: 'db', group: 'G', type: 'process', priv: { command: '/bin/db', freezeSignal: 'SIGKILL' } });
    assert.ok(!bad.ok && bad.error.code === 'BAD_PROPERTY' && bad.error.path === 'resources.db.priv.freezeSignal');
    const good = fold([{ op: 'resource-create', resource: 'db', group: 'G', type: 'process', priv: { command: '/bin/db' } }], base);
    const half = applyUpdate(good, { op: 'resource-set', resource: 'db', priv: { freezeSignal: 'SIGUSR1' } });
    assert.ok(!half.ok && half.error.code === 'BAD_PROPERTY', 'SIGUSR1 alone has no thaw');
    const both = fold([{ op: 'resource-set', resource: 'db', priv: { freezeSignal: 'SIGUSR1', thawSignal: 'SIGUSR2' } }], good);
    assert.deepEqual(writerSpec('process', both.resources.db!.priv)?.action, { kind: 'signal', freezeSignal: 'SIGUSR1', thawSignal: 'SIGUSR2' });
  });

  test('writerSpec and its description', () => {
    assert.equal(writerSpec('process', { command: 'x' }), null);
    const s = writerSpec('process', { freezeSignal: 'stop' })!;
    assert.deepEqual(s, { action: { kind: 'signal', freezeSignal: 'SIGSTOP', thawSignal: 'SIGCONT' }, actionTimeoutMs: 10_000 });
    assert.equal(describeWriter(s.action), 'signal SIGSTOP/SIGCONT');
    const c = writerSpec('process', { freezeCommand: '/bin/f  -a b', thawCommand: ['/bin/t', 'x y'], freezeTimeoutMs: 2_000 })!;
    assert.deepEqual(c.action, { kind: 'command', freezeCommand: ['/bin/f', '-a', 'b'], thawCommand: ['/bin/t', 'x y'] });
    assert.equal(c.actionTimeoutMs, 2_000);
    assert.equal(describeWriter(writerSpec('disk', diskPriv)!.action), 'fsfreeze /mnt/data');
  });
});

// ---- the protocol -----------------------------------------------------------------------------

describe('freeze and thaw', () => {
  test('the limit is armed first, writers freeze one at a time top-down, thaw bottom-up', () => {
    const w = new World();
    const f = w.freeze('G', 5_000);
    assert.equal(f.error, undefined);
    assert.equal(f.actions[0]!.kind, 'arm-timer', 'the deadline is armed before any writer action');
    assert.deepEqual(f.actions[0], { kind: 'arm-timer', backup: 'b1', atMs: 6_000, why: 'freeze-limit' });
    assert.deepEqual(brief(f.actions), ['freeze g-db'], 'the application first, one writer at a time');
    assert.deepEqual(calls(f.actions)[0]!.quiet, ['g-db', 'g-web'], 'checks pause for the writer and what runs above it');
    assert.equal(nextWakeMs(w.book), 6_000);
    w.now += 10;
    const a = writerAnswered(w.book, w.now, calls(f.actions)[0]!.id, true, undefined);
    assert.deepEqual(brief(a), ['freeze g-data']);
    w.now += 10;
    const b = writerAnswered(w.book, w.now, calls(a)[0]!.id, true, undefined);
    assert.deepEqual(events(b), ['BACKUP_FROZEN']);
    const v = backupView(w.book.backups.b1!);
    assert.equal(v.state, 'Frozen');
    assert.equal(v.frozenAfterMs, 20);
    assert.deepEqual(v.writers.map((x) => `${x.resource} ${x.action} ${x.state}`), ['g-db signal SIGSTOP/SIGCONT Frozen', 'g-data fsfreeze /mnt/g Frozen']);
    w.now += 100;
    const t = requestThaw(w.book, w.now, 'b1');
    assert.equal(t.error, undefined);
    assert.deepEqual(brief(t.actions), ['thaw g-data', 'thaw g-db'], 'the filesystem first, then the application');
    assert.equal(nextWakeMs(w.book), null, 'a thawed backup needs no timer');
    for (const c of calls(t.actions)) writerAnswered(w.book, w.now, c.id, true, undefined);
    assert.equal(backupView(w.book.backups.b1!).state, 'Thawed');
    assert.deepEqual(tick(w.book, 10_000_000), [], 'a tick after the thaw, however late, does nothing');
    assert.equal(backupView(w.book.backups.b1!).state, 'Thawed');
    assert.deepEqual(requestThaw(w.book, w.now, 'b1'), { actions: [] }, 'a second thaw is a no-op');
  });

  test('a thaw at once, before any writer answered, cancels the limit; late freeze answers are ignored', () => {
    const w = new World();
    const f = w.freeze('G', 1_000);
    const t = requestThaw(w.book, w.now, 'b1');
    assert.equal(t.error, undefined);
    assert.deepEqual(brief(t.actions), ['thaw g-db'], 'the writer being frozen is thawed; the next one is never frozen');
    assert.deepEqual(writerAnswered(w.book, w.now, calls(f.actions)[0]!.id, true, undefined), [], 'the freeze answer is stale');
    const end = writerAnswered(w.book, w.now, calls(t.actions)[0]!.id, true, undefined);
    assert.deepEqual(events(end), ['BACKUP_THAWED']);
    const v = backupView(w.book.backups.b1!);
    assert.equal(v.state, 'Thawed');
    assert.deepEqual(v.writers.map((x) => x.state), ['Thawed', 'NotFrozen']);
    assert.deepEqual(tick(w.book, w.now + 1_000), []);
    assert.deepEqual(tick(w.book, w.now + 5_000), []);
  });

  test('the limit: nothing before it; at it every writer is thawed and the backup fails naming the group, the limit and what was frozen', () => {
    const w = new World();
    const f = w.freeze('G', 1_000);
    const a = writerAnswered(w.book, w.now + 5, calls(f.actions)[0]!.id, true, undefined);
    assert.deepEqual(tick(w.book, 1_999), [], 'one ms before the limit');
    const t = tick(w.book, 2_000);
    const e = eventOf(t, 'BACKUP_FREEZE_TIMEOUT');
    assert.ok(e);
    assert.match(e.message, /group 'G'/);
    assert.match(e.message, /limit of 1000 ms/);
    assert.match(e.message, /still frozen: g-db \(frozen\), g-data \(freezing\)/);
    assert.deepEqual(brief(t), ['thaw g-data', 'thaw g-db']);
    assert.equal(writerAnswered(w.book, 2_001, calls(a)[0]!.id, true, undefined).length, 0, 'the freeze that finishes after the limit is stale');
    for (const c of calls(t)) writerAnswered(w.book, 2_003, c.id, true, undefined);
    const v = backupView(w.book.backups.b1!);
    assert.equal(v.state, 'Failed');
    assert.equal(v.error?.code, 'BACKUP_FREEZE_TIMEOUT');
    assert.equal(v.failedAfterMs, 1_000);
    assert.equal(v.endedAfterMs, 1_003);
    const late = requestThaw(w.book, 2_050, 'b1');
    assert.equal(late.error?.code, 'BACKUP_FREEZE_TIMEOUT');
    assert.match(late.error!.message, /arrived 50 ms after the limit/);
  });

  test('a thaw processed at the limit, before the timer, finds the backup timed out (the order of inputs decides)', () => {
    const w = new World();
    w.freeze('G', 1_000);
    const t = requestThaw(w.book, 2_000, 'b1');
    assert.equal(t.error?.code, 'BACKUP_FREEZE_TIMEOUT');
    assert.ok(eventOf(t.actions, 'BACKUP_FREEZE_TIMEOUT'));
    const w2 = new World();
    w2.freeze('G', 1_000);
    assert.equal(requestThaw(w2.book, 1_999, 'b1').error, undefined, 'one ms before the limit wins');
    assert.deepEqual(tick(w2.book, 2_000), []);
  });

  test('one backup per group: a second freeze is refused while the first holds or thaws; other groups are independent', () => {
    const w = new World();
    const f = w.freeze('G');
    const again = w.freeze('g-db');
    assert.equal(again.error?.code, 'BACKUP_ALREADY_FROZEN');
    assert.match(again.error!.message, /group 'G' is busy with backup b1/);
    assert.match(again.error!.hint ?? '', /cluster backup thaw b1/);
    assert.equal(w.freeze('H').error, undefined, 'group H is free');
    const t = requestThaw(w.book, w.now, 'b1');
    assert.equal(w.freeze('G').error?.code, 'BACKUP_ALREADY_FROZEN', 'still thawing');
    writerAnswered(w.book, w.now, calls(f.actions)[0]!.id, true, undefined);
    for (const c of calls(t.actions)) writerAnswered(w.book, w.now, c.id, true, undefined);
    assert.equal(activeBackupOf(w.book, 'G'), undefined);
    assert.equal(w.freeze('G').error, undefined, 'free again once thawed');
  });

  test('a resource target freezes that writer alone', () => {
    const w = new World();
    const f = w.freeze('g-data');
    assert.deepEqual(brief(f.actions), ['freeze g-data']);
    assert.deepEqual(calls(f.actions)[0]!.quiet, ['g-data', 'g-db', 'g-web']);
    assert.equal(backupView(w.book.backups.b1!).target, 'g-data');
  });

  test('refusals: unknown target, no writer, bad limit, not running here, a writer not Online', () => {
    const w = new World();
    assert.equal(w.freeze('nope').error?.code, 'GROUP_NOT_FOUND');
    assert.equal(w.freeze('g-web').error?.code, 'BACKUP_NO_WRITERS');
    assert.equal(w.freeze('G', 50).error?.code, 'BAD_ARGUMENT');
    assert.equal(w.freeze('G', 600_001).error?.code, 'BAD_ARGUMENT');
    w.local.groups.G!.resources['g-data']!.state = 'OnlinePending';
    const p = w.freeze('G');
    assert.equal(p.error?.code, 'BACKUP_NOT_READY');
    assert.match(p.error!.message, /writer g-data is OnlinePending/);
    w.local.groups.G!.resources['g-data']!.state = 'Online';
    w.local.groups.G!.resources['g-data']!.maint = { mode: 'extended', internal: 'Offline', transition: 1, sinceWallMs: 0 };
    assert.match(w.freeze('G').error!.message, /extended maintenance/);
    delete w.local.groups.G!.resources['g-data']!.maint;
    w.own.G = { ...w.own.G!, node: 'n2' };
    assert.match(w.freeze('G').error!.message, /owned by n2/);
    w.own.G = { ...w.own.G, node: 'n1', phase: 'stop' };
    assert.match(w.freeze('G').error!.message, /moving away/);
    w.own.G = { ...w.own.G, phase: 'run' };
    w.shuttingDown = true;
    assert.match(w.freeze('G').error!.message, /shutting down/);
    assert.deepEqual(w.book.backups, {}, 'a refusal records nothing');
    assert.equal(requestThaw(w.book, w.now, 'zz').error?.code, 'BACKUP_NOT_FOUND');
  });
});

describe('messages on a fractional clock', () => {
  test('durations from performance.now() print rounded (whole ms, one decimal below 10 ms), never as raw floats', () => {
    const texts: string[] = [];
    const note = (as: BackupAction[]): BackupAction[] => {
      for (const a of as) if (a.kind === 'event') texts.push(a.message);
      return as;
    };
    const w = new World();
    w.now = 1_000.1003009999986;
    const f = note(w.freeze('G', 1_000).actions);
    const a = note(writerAnswered(w.book, w.now + 3.3333333, calls(f)[0]!.id, true, undefined));
    note(writerAnswered(w.book, w.now + 6.6666667, calls(a)[0]!.id, true, undefined));
    const busy = w.freeze('G', 1_000);
    texts.push(busy.error!.message);
    const t = note(tick(w.book, w.now + 1_000.5));
    for (const c of calls(t)) note(writerAnswered(w.book, w.now + 1_001.7777777, c.id, true, undefined));
    const late = requestThaw(w.book, w.now + 2_106.1003009999986, 'b1');
    texts.push(late.error!.message);
    assert.match(late.error!.message, /arrived 1106 ms after the limit/);
    const raw = texts.filter((m) => /\d\.\d{2,} ?ms/.test(m));
    assert.deepEqual(raw, [], 'no message prints a float of milliseconds');
    assert.ok(texts.some((m) => /frozen \(6\.7 ms\)/.test(m)), `a short duration keeps one decimal: ${texts.join(' | ')}`);
  });
});

describe('failures', () => {
  function frozen(w: World): void {
    const f = w.freeze('G');
    const a = writerAnswered(w.book, w.now, calls(f.actions)[0]!.id, true, undefined);
    writerAnswered(w.book, w.now, calls(a)[0]!.id, true, undefined);
    assert.equal(w.book.backups.b1!.state, 'Frozen');
  }

  for (const [what, change, pattern] of [
    ['a move (ownership phase stop)', (w: World) => { w.own.G = { ...w.own.G!, phase: 'stop' }; }, /moving away/],
    ['a failover (another owner, new epoch)', (w: World) => { w.own.G = { ...w.own.G!, node: 'n2', epoch: 4 }; }, /owned by n2/],
    ['a writer that failed', (w: World) => { const r = w.local.groups.G!.resources['g-db']!; r.state = 'Failed'; r.error = 'process exited'; }, /writer g-db is Failed \(process exited\)/],
    ['a writer being stopped', (w: World) => { w.local.groups.G!.resources['g-data']!.op = { kind: 'offline', id: 9 }; }, /writer g-data is being stopped/],
    ['the group going offline', (w: World) => { w.config = fold([{ op: 'group-desired', group: 'G', desired: 'offline' }], w.config); }, /being taken offline/],
    ['a fence', (w: World) => { w.local.groups.G!.fenced = true; w.local.groups.G!.released = true; }, /fenced itself/],
    ['the node stopping', (w: World) => { w.shuttingDown = true; }, /shutting down/],
    ['the monitor lost (writers failed)', (w: World) => { for (const r of Object.values(w.local.groups.G!.resources)) r.state = 'Failed'; }, /is Failed/],
  ] as const) {
    test(`${what} fails the backup and thaws every writer`, () => {
      const w = new World();
      frozen(w);
      assert.deepEqual(reconcileBackups(w.book, w.ctx()), [], 'nothing while the group runs as it was');
      change(w);
      const r = reconcileBackups(w.book, w.ctx());
      const e = eventOf(r, 'BACKUP_FAILED');
      assert.ok(e, events(r).join());
      assert.match(e.message, pattern);
      assert.deepEqual(brief(r), ['thaw g-data', 'thaw g-db']);
      assert.equal(w.book.backups.b1!.error?.code, 'BACKUP_FAILED');
      assert.equal(requestThaw(w.book, w.now, 'b1').error?.code, 'BACKUP_FAILED', 'the thaw then reports the failure');
      assert.deepEqual(reconcileBackups(w.book, w.ctx()), [], 'once');
      assert.deepEqual(tick(w.book, w.now + 100_000), [], 'and no timeout afterwards');
    });
  }

  test('a writer that cannot be frozen fails the backup; it and the ones frozen before it are thawed', () => {
    const w = new World();
    const f = w.freeze('G');
    const a = writerAnswered(w.book, w.now, calls(f.actions)[0]!.id, true, undefined);
    const b = writerAnswered(w.book, w.now, calls(a)[0]!.id, false, 'fsfreeze: Device or resource busy');
    assert.match(eventOf(b, 'BACKUP_FAILED')!.message, /writer g-data could not be frozen: fsfreeze: Device or resource busy/);
    assert.deepEqual(brief(b), ['thaw g-data', 'thaw g-db']);
  });

  test('a thaw that fails is retried, then reported with what to do; the backup stays unfinished until then', () => {
    const w = new World();
    frozen(w);
    let t = requestThaw(w.book, w.now, 'b1').actions;
    const db = calls(t).find((c) => c.resource === 'g-db')!;
    writerAnswered(w.book, w.now, db.id, true, undefined);
    let data = calls(t).find((c) => c.resource === 'g-data')!;
    for (let attempt = 1; attempt < thawAttemptsMax; attempt++) {
      t = writerAnswered(w.book, w.now, data.id, false, 'fsfreeze: I/O error');
      assert.deepEqual(events(t), ['BACKUP_THAW_RETRY']);
      assert.equal(nextWakeMs(w.book), w.now + thawRetryDelayMs);
      assert.deepEqual(tick(w.book, w.now + thawRetryDelayMs - 1), []);
      w.now += thawRetryDelayMs;
      t = tick(w.book, w.now);
      assert.deepEqual(brief(t), ['thaw g-data']);
      data = calls(t)[0]!;
    }
    assert.equal(w.freeze('G').error?.code, 'BACKUP_ALREADY_FROZEN', 'not finished while a writer may be frozen');
    t = writerAnswered(w.book, w.now, data.id, false, 'fsfreeze: I/O error');
    assert.match(eventOf(t, 'BACKUP_THAW_FAILED')!.message, /may still be frozen.*fsfreeze -u \/mnt\/g/);
    const v = backupView(w.book.backups.b1!);
    assert.equal(v.state, 'Failed');
    assert.equal(v.error?.code, 'BACKUP_THAW_FAILED');
    assert.deepEqual(v.writers.map((x) => x.state), ['Thawed', 'ThawFailed']);
  });

  test('finished backups are kept for status, the newest recentBackupsMax of them', () => {
    const w = new World();
    for (let i = 0; i < recentBackupsMax + 5; i++) {
      w.now += 10;
      const f = w.freeze('H');
      assert.equal(f.error, undefined);
      const t = requestThaw(w.book, w.now, `b${w.ids}`);
      writerAnswered(w.book, w.now, calls(f.actions)[0]!.id, true, undefined);
      for (const c of calls(t.actions)) writerAnswered(w.book, w.now, c.id, true, undefined);
    }
    assert.equal(Object.keys(w.book.backups).length, recentBackupsMax);
    assert.ok(w.book.backups[`b${w.ids}`]);
    assert.equal(w.book.backups.b1, undefined);
  });
});

// ---- property tests ---------------------------------------------------------------------------

/**
 * The resource monitor as the state machine sees it: calls run per resource in the order they
 * were sent (a thaw waits for the freeze before it); a failed freeze leaves nothing frozen (the
 * monitor thaws after a failed freeze itself).
 */
class MonitorModel {
  queues = new Map<string, Call[]>();
  frozen = new Set<string>();
  send(c: Call): void {
    if (c.op === 'freeze') {
      assert.ok(!this.frozen.has(c.resource), `freeze of ${c.resource}, which is frozen already`);
      assert.equal(this.queues.get(c.resource)?.length ?? 0, 0, `freeze of ${c.resource} while calls for it are pending`);
    }
    this.queues.set(c.resource, [...(this.queues.get(c.resource) ?? []), c]);
  }
  busy(): string[] {
    return [...this.queues].filter(([, q]) => q.length > 0).map(([r]) => r).sort();
  }
  /** Run the head call of `resource`. */
  run(resource: string, ok: boolean): Call {
    const c = this.queues.get(resource)!.shift()!;
    if (c.op === 'freeze' && ok) this.frozen.add(resource);
    if (c.op === 'thaw' && ok) this.frozen.delete(resource);
    return c;
  }
}

type Op =
  | { t: 'freeze'; target: 'G' | 'H' | 'g-data' | 'h-db'; limitMs: number }
  | { t: 'thaw'; pick: number }
  | { t: 'advance'; ms: number }
  | { t: 'early-tick' }
  | { t: 'answer'; pick: number; ok: boolean }
  | { t: 'move'; group: 'G' | 'H' }
  | { t: 'writer-fails'; group: 'G' | 'H' }
  | { t: 'restore' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('freeze' as const), target: fc.constantFrom('G' as const, 'H' as const, 'g-data' as const, 'h-db' as const), limitMs: fc.integer({ min: 100, max: 2_000 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('thaw' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 2_500 })) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'early-tick' as const }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('answer' as const), pick: fc.nat(), ok: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('move' as const), group: fc.constantFrom('G' as const, 'H' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('writer-fails' as const), group: fc.constantFrom('G' as const, 'H' as const) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'restore' as const }) },
);

/** What the test saw of each thaw it sent: when, and what the backup looked like. */
interface ThawSeen { id: string; atMs: number; deadlineMs: number; heldFreeze: boolean; error: string | undefined }

function runScenario(ops: Op[], answerOkRate: (ok: boolean) => boolean): void {
  const w = new World();
  const mon = new MonitorModel();
  const thaws: ThawSeen[] = [];
  const ids: string[] = [];
  const carry = (as: BackupAction[], where: string): void => {
    const firstCall = as.findIndex((a) => a.kind === 'writer-call');
    const arm = as.findIndex((a) => a.kind === 'arm-timer' && a.why === 'freeze-limit');
    if (where === 'freeze' && firstCall >= 0) assert.ok(arm >= 0 && arm < firstCall, 'the limit is armed before any writer action');
    for (const c of calls(as)) mon.send(c);
  };
  /** The shell's timer: fires at nextWakeMs (never early here; early ticks are their own op). */
  const timers = (): void => {
    for (let next = nextWakeMs(w.book); next !== null && next <= w.now; next = nextWakeMs(w.book)) {
      const at = w.now;
      carry(tick(w.book, at), 'tick');
      if (nextWakeMs(w.book) === next) break; // nothing changed (cannot happen: a due wake always acts)
    }
  };
  const invariants = (): void => {
    const open = new Map<string, number>();
    for (const b of Object.values(w.book.backups)) {
      if (b.endedMs === null) open.set(b.group, (open.get(b.group) ?? 0) + 1);
      if (b.state === 'Freezing' || b.state === 'Frozen') assert.ok(b.deadlineMs > w.now, `${b.id} holds its freeze past its limit`);
      if (b.error?.code === 'BACKUP_FREEZE_TIMEOUT') {
        assert.ok(b.failedMs! >= b.deadlineMs, 'a timeout never comes before the limit');
        assert.ok(b.thawAskedMs === null || b.thawAskedMs >= b.deadlineMs, `spurious timeout: ${b.id} was thawed at ${b.thawAskedMs}, before its limit ${b.deadlineMs}`);
      }
    }
    for (const [g, n] of open) assert.ok(n <= 1, `${n} unfinished backups of group ${g}`);
    for (const t of thaws) {
      const b = w.book.backups[t.id];
      if (t.heldFreeze && t.atMs < t.deadlineMs) {
        assert.equal(t.error, undefined, `a thaw before the limit was refused: ${t.error}`);
        if (b) assert.notEqual(b.error?.code, 'BACKUP_FREEZE_TIMEOUT', `spurious timeout of ${t.id}`);
      }
    }
  };

  for (const op of ops) {
    switch (op.t) {
      case 'freeze': {
        const f = w.freeze(op.target, op.limitMs);
        if (!f.error) ids.push(`b${w.ids}`);
        else assert.ok(['BACKUP_ALREADY_FROZEN', 'BACKUP_NOT_READY'].includes(f.error.code), f.error.message);
        carry(f.actions, 'freeze');
        break;
      }
      case 'thaw': {
        if (ids.length === 0) break;
        const id = ids[op.pick % ids.length]!;
        const b = w.book.backups[id];
        if (!b) break;
        const held = b.state === 'Freezing' || b.state === 'Frozen';
        const deadlineMs = b.deadlineMs;
        const r = requestThaw(w.book, w.now, id);
        thaws.push({ id, atMs: w.now, deadlineMs, heldFreeze: held, error: r.error?.code });
        carry(r.actions, 'thaw');
        break;
      }
      case 'advance': w.now += op.ms; timers(); break;
      case 'early-tick': carry(tick(w.book, w.now), 'tick'); break;
      case 'answer': {
        const busy = mon.busy();
        if (busy.length === 0) break;
        const ok = answerOkRate(op.ok);
        const c = mon.run(busy[op.pick % busy.length]!, ok);
        carry(writerAnswered(w.book, w.now, c.id, ok, 'boom'), 'answer');
        break;
      }
      case 'move': w.own[op.group] = { ...w.own[op.group]!, phase: 'stop' }; carry(reconcileBackups(w.book, w.ctx()), 'cycle'); break;
      case 'writer-fails': w.local.groups[op.group]!.resources[`${op.group.toLowerCase()}-db`]!.state = 'Failed'; carry(reconcileBackups(w.book, w.ctx()), 'cycle'); break;
      case 'restore':
        for (const g of ['G', 'H'] as const) {
          w.own[g] = { ...w.own[g]!, phase: 'run' };
          for (const r of Object.values(w.local.groups[g]!.resources)) r.state = 'Online';
        }
        carry(reconcileBackups(w.book, w.ctx()), 'cycle');
        break;
    }
    invariants();
  }
  // Liveness: the monitor answers everything (ok), time passes, the timers fire.
  for (let round = 0; round < 1_000 && (mon.busy().length > 0 || nextWakeMs(w.book) !== null); round++) {
    for (const r of mon.busy()) {
      const c = mon.run(r, true);
      carry(writerAnswered(w.book, w.now, c.id, true, undefined), 'answer');
    }
    w.now += 500;
    timers();
    invariants();
  }
  for (const b of Object.values(w.book.backups)) assert.notEqual(b.endedMs, null, `backup ${b.id} never finished (${b.state})`);
  const reported = new Set(Object.values(w.book.backups).flatMap((b) => b.writers.filter((x) => x.state === 'ThawFailed').map((x) => x.resource)));
  for (const r of mon.frozen) assert.ok(reported.has(r), `writer ${r} left frozen without a BACKUP_THAW_FAILED`);
}

describe('property tests (fast-check)', () => {
  test('random interleavings: no spurious timeout, never past the limit, one backup per group, nothing left frozen', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => runScenario(ops, (ok) => ok)), { numRuns: 400 });
  });

  test('with writers that always answer: every backup ends Thawed or with a reason, and a thaw before the limit always succeeds', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => runScenario(ops, () => true)), { numRuns: 300 });
  });

  test('a thaw at any time around the limit: before it wins, at or after it times out, never both', () => {
    fc.assert(fc.property(fc.integer({ min: 100, max: 5_000 }), fc.integer({ min: -200, max: 200 }), fc.boolean(), (limitMs, offsetMs, timerFirst) => {
      const w = new World();
      const f = w.freeze('G', limitMs);
      const start = w.now;
      const a = writerAnswered(w.book, start + 1, calls(f.actions)[0]!.id, true, undefined);
      writerAnswered(w.book, start + 2, calls(a)[0]!.id, true, undefined);
      const at = Math.max(start + 3, start + limitMs + offsetMs);
      if (timerFirst) tick(w.book, at); // the timer's callback ran first in the same instant
      const r = requestThaw(w.book, at, 'b1');
      tick(w.book, at + 10_000);
      const b = w.book.backups.b1!;
      if (at < start + limitMs) {
        assert.equal(r.error, undefined);
        assert.equal(b.state, 'Thawing');
      } else {
        assert.equal(r.error?.code, 'BACKUP_FREEZE_TIMEOUT');
        assert.equal(b.failedMs, at);
      }
    }), { numRuns: 2_000 });
  });
});
