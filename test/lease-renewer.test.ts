// The lease renewer (store/lease-renewer.ts): built from the plain options a store gives after a
// claim, on its own file descriptor (dir) or its own etcd client, it renews the very slot the
// store claimed, as other nodes read it; and on etcd it stops for good once the slot is not its own.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirStore } from '../src/store/dir.js';
import { EtcdStore } from '../src/store/etcd.js';
import { openLeaseRenewer } from '../src/store/lease-renewer.js';
import type { QuorumStore } from '../src/store/types.js';
import { EtcdCluster } from './etcd-harness.js';
import { value } from './store-contract.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function renewsTheClaimedSlot(store: QuorumStore, reader: QuorumStore): Promise<void> {
  value(await store.claimLeaseSlot('n1', 'inc-1'));
  value(await store.claimLeaseSlot('n2', 'inc-2'));
  const options = store.leaseRenewerOptions?.('n1');
  assert.ok(options, 'a claimed slot gives renewer options');
  assert.deepEqual(JSON.parse(JSON.stringify(options)), options, 'plain data, for a worker thread');
  assert.equal(store.leaseRenewerOptions?.('nobody'), null);
  const renewer = await openLeaseRenewer(options);
  try {
    for (let counter = 1; counter <= 3; counter++) assert.equal((await renewer.renew(counter, 'running')).ok, true);
    const last = await renewer.renew(4, 'draining');
    assert.equal(last.ok, true);
    const leases = await reader.readLeases();
    if (store.kind === 'etcd') {
      // The renewal read every slot and the change version in its own transaction, after its put.
      assert.ok(last.ok && last.view, 'an etcd renewal gives the slots and change version it read');
      assert.deepEqual(last.view.leases, leases);
      assert.equal(last.view.changeVersion, await reader.changeVersion());
    }
    assert.deepEqual(leases.find((l) => l.node === 'n1'), { node: 'n1', counter: 4, state: 'draining', incarnation: 'inc-1' });
    assert.deepEqual(leases.find((l) => l.node === 'n2'), { node: 'n2', counter: 0, state: 'running', incarnation: 'inc-2' }, 'the neighbour slot is untouched');
  } finally {
    await renewer.close();
  }
}

test('dir: the renewer writes the claimed slot through its own descriptor', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clusterd-renewer-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const store = new DirStore(join(dir, 'q'));
  value(await store.init('t', 1_000));
  const reader = new DirStore(join(dir, 'q'));
  value(await reader.open());
  try {
    await renewsTheClaimedSlot(store, reader);
  } finally {
    await store.close();
    await reader.close();
  }
});

test('etcd: the renewer adopts the claimed slot on its own client, and stops once another clusterd claims it', async () => {
  const c = await EtcdCluster.start({ members: 1 });
  cleanups.push(() => c.stop());
  const prefix = `/renewer${process.pid}/`;
  const store = new EtcdStore(c.endpoints(), { prefix, callTimeoutMs: 5_000 });
  value(await store.init('t', 1_000));
  const reader = new EtcdStore(c.endpoints(), { prefix, callTimeoutMs: 5_000 });
  value(await reader.open());
  try {
    await renewsTheClaimedSlot(store, reader);
    const renewer = await openLeaseRenewer(store.leaseRenewerOptions('n1')!);
    value(await reader.claimLeaseSlot('n1', 'inc-9')); // a second clusterd under the same name
    const r = await renewer.renew(10, 'running');
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error, /no longer belongs to this clusterd/);
    await renewer.close();
  } finally {
    await store.close();
    await reader.close();
  }
});
