// The private-sector rule of a disk's online, as a table: what is found, what the online does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeSector, sectorAheadError, type SectorClaimant, type SectorFound, type SectorOwner } from './disk-sector.js';

const me: SectorClaimant = { cluster: 'C', node: 'n2', group: 'G', resource: 'Disk H:', epoch: 7 };
const rec = (over: Partial<SectorOwner>): SectorFound => ({ kind: 'ok', rec: { cluster: 'C', node: 'n1', group: 'G', resource: 'Disk H:', epoch: 6, state: 'online', ...over } });

test('judgeSector: take at once, watch, or refuse', () => {
  const table: [string, SectorFound, SectorClaimant, string][] = [
    ['no sector', { kind: 'absent' }, me, 'free:absent'],
    ['released by the previous owner', rec({ state: 'released' }), me, 'free:released'],
    ['released by another cluster, older epoch', rec({ cluster: 'X', state: 'released' }), me, 'free:released'],
    ['unreleased, previous owner of this group (crash)', rec({}), me, 'stopped:unreleased'],
    ['unreleased, several epochs back', rec({ epoch: 2, node: 'n3' }), me, 'stopped:unreleased'],
    ['unreleased, this node under this epoch (monitor replaced)', rec({ node: 'n2', epoch: 7 }), me, 'stopped:unreleased'],
    ['unreleased, another node under this very epoch', rec({ epoch: 7 }), me, 'watch'],
    ['unreleased, another cluster', rec({ cluster: 'X' }), me, 'watch'],
    ['unreleased, no cluster recorded', rec({ cluster: undefined }), me, 'watch'],
    ['unreleased, this node does not know its cluster', rec({}), { ...me, cluster: undefined }, 'watch'],
    ['unreleased, another group', rec({ group: 'F' }), me, 'watch'],
    ['unreleased, another resource', rec({ resource: 'Disk J:' }), me, 'watch'],
    ['unreadable', { kind: 'bad', why: 'checksum mismatch' }, me, 'watch'],
    ['newer epoch, online', rec({ epoch: 13 }), me, 'ahead'],
    ['newer epoch, released', rec({ epoch: 13, state: 'released' }), me, 'ahead'],
    ['newer epoch, this node itself', rec({ epoch: 13, node: 'n2' }), me, 'ahead'],
  ];
  for (const [name, found, who, want] of table) {
    const v = judgeSector(found, who);
    const got = v.kind === 'free' || v.kind === 'stopped' ? `${v.kind}:${v.found}` : v.kind;
    assert.equal(got, want, name);
  }
});

test('sectorAheadError names the sector\'s node and epoch, the epoch used, what it means and the clearing command', () => {
  const found = (rec({ epoch: 13, node: 'n2' }) as { rec: SectorOwner }).rec;
  const own = sectorAheadError('Disk H:', '/lun/.clusterd-sector', found, me, 'clusterd disk clear-sector --path /lun');
  assert.equal(own.code, 'DISK_SECTOR_EPOCH_AHEAD');
  assert.match(own.message, /epoch 13 .*node n2.*newer than epoch 7/);
  assert.match(own.message, /another cluster uses this disk, or this cluster's store was rebuilt/);
  assert.doesNotMatch(own.message, /move under way|has taken/, 'this node wrote it itself: no other node holds it');
  assert.match(own.hint ?? '', /clusterd disk clear-sector --path \/lun/);
  const other = sectorAheadError('Disk H:', '/lun/.clusterd-sector', { ...found, node: 'n1' }, me, 'x');
  assert.match(other.message, /unless n1 has just been given group 'G' under epoch 13/);
  const foreign = sectorAheadError('Disk H:', '/lun/.clusterd-sector', { ...found, cluster: 'X' }, me, 'x');
  assert.match(foreign.message, /another cluster \('X'\) uses this disk/);
});
