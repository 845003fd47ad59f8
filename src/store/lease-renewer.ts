// A lease renewer: renews one claimed lease slot on its own connection to the quorum store, so
// that clusterd's heartbeat thread renews without the main thread (node/heartbeat.ts). It is
// made from plain options (QuorumStore.leaseRenewerOptions) because it is built inside a worker
// thread: `dir` opens the lease file itself and renews with one pwrite of the slot (lease-file.ts,
// never SQLite); `etcd` opens its own client and adopts the slot at the revision of the claim.

import fs from 'node:fs';
import { LeaseSlotWriter } from './lease-file.js';
import type { LeaseRenewerOptions, LeaseState, RenewalView } from './types.js';

export interface LeaseRenewer {
  /**
   * Writes the slot with `counter` and `state`; the error says why it was not written. `view`: the
   * slots and change version read together with the renewal, where the store can (etcd).
   */
  renew(counter: number, state: LeaseState): Promise<{ ok: true; view?: RenewalView } | { ok: false; error: string }>;
  close(): Promise<void>;
}

export async function openLeaseRenewer(o: LeaseRenewerOptions): Promise<LeaseRenewer> {
  if (o.kind === 'dir') {
    const fd = fs.openSync(o.leasePath, 'r+');
    const writer = new LeaseSlotWriter(o.slot, o.node, o.incarnation);
    return {
      renew: (counter, state) => {
        try {
          writer.write(fd, counter, state);
          return Promise.resolve({ ok: true });
        } catch (err) {
          return Promise.resolve({ ok: false, error: `renewing the lease of node '${o.node}' in ${o.leasePath}: ${(err as Error).message}` });
        }
      },
      close: () => { fs.closeSync(fd); return Promise.resolve(); },
    };
  }
  // Loaded only for etcd: a dir cluster's heartbeat thread never loads the gRPC client.
  const { EtcdStore } = await import('./etcd.js');
  // Bytes cloned into a worker thread arrive as plain Uint8Array: gRPC takes Buffers.
  const buf = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const tls = o.tls ? { ...(o.tls.ca ? { ca: buf(o.tls.ca)! } : {}), ...(o.tls.cert ? { cert: buf(o.tls.cert)! } : {}), ...(o.tls.key ? { key: buf(o.tls.key)! } : {}) } : undefined;
  const store = new EtcdStore(o.endpoints, { prefix: o.prefix, callTimeoutMs: o.callTimeoutMs, ...(tls ? { tls } : {}), ...(o.auth ? { auth: o.auth } : {}) });
  await store.adoptLeaseSlot(o.node, o.incarnation, o.rev);
  return {
    renew: async (counter, state) => {
      const r = await store.renewLeaseAndRead(o.node, counter, state);
      return r.ok ? { ok: true, view: r.value } : { ok: false, error: r.error.message };
    },
    close: () => store.close(),
  };
}
