// Unit tests of what status shows: a group whose owner is Down is Pending (never Online), its
// running resources Unknown, and a blocked ownership change is named with its error code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupStateOf, resourceOnDownOwner, shownGroup, type GroupFacts } from './shown-state.js';
import type { OwnershipRec } from './placement.js';

const rec: OwnershipRec = { group: 'web', node: 'n2', epoch: 4, term: 3, phase: 'run' };
const failover: OwnershipRec = { group: 'web', node: 'n3', epoch: 5, term: 3, phase: 'run' };
const full = { code: 'QUORUM_DISK_FULL', message: 'writing ownership needs 1048676 bytes free; 0 bytes are free' };

const facts = (over: Partial<GroupFacts>): GroupFacts => ({ rec, ownerState: 'Up', resourceStates: ['Online'], change: undefined, blocked: null, ...over });

test('group state from resource states (cluster.exe states; Unknown counts as Pending)', () => {
  const table: [Parameters<typeof groupStateOf>[0], string][] = [
    [[], 'Offline'], [['Offline', 'Offline'], 'Offline'], [['Online', 'Online'], 'Online'], [['Online', 'OnlinePending'], 'Pending'],
    [['Online', 'Unknown'], 'Pending'], [['Online', 'Failed'], 'Failed'], [['Online', 'Offline'], 'Partially Online'],
  ];
  for (const [states, want] of table) assert.equal(groupStateOf(states), want, states.join(','));
});

test('a resource on a Down owner: running states become Unknown, stopped ones stay', () => {
  assert.equal(resourceOnDownOwner('Online'), 'Unknown');
  assert.equal(resourceOnDownOwner('OnlinePending'), 'Unknown');
  assert.equal(resourceOnDownOwner('OfflinePending'), 'Unknown');
  assert.equal(resourceOnDownOwner('Offline'), 'Offline');
  assert.equal(resourceOnDownOwner('Failed'), 'Failed');
  assert.equal(resourceOnDownOwner(undefined), 'Offline');
});

test('owner Down, failover blocked by a full quorum disk: Pending, with the reason and the code', () => {
  const g = shownGroup(facts({ ownerState: 'Down', resourceStates: ['Unknown'], change: failover, blocked: full }));
  assert.equal(g.state, 'Pending');
  assert.equal(g.blockedBy, 'QUORUM_DISK_FULL');
  assert.match(g.reason!, /owner n2 is Down; failover to n3 .*blocked: the quorum disk is full/);
});

test('owner Down and nothing blocked: Pending, failing over; an owner no longer a member counts as Down', () => {
  const g = shownGroup(facts({ ownerState: 'Down', resourceStates: ['Unknown'], change: failover }));
  assert.deepEqual([g.state, g.blockedBy], ['Pending', undefined]);
  assert.match(g.reason!, /failing over to n3/);
  assert.equal(shownGroup(facts({ ownerState: undefined, resourceStates: ['Unknown'] })).state, 'Pending');
});

test('owner Up: the resources decide; a blocked move is named but the state stays', () => {
  assert.deepEqual(shownGroup(facts({})), { state: 'Online' });
  const stop: OwnershipRec = { ...rec, phase: 'stop' };
  const g = shownGroup(facts({ change: stop, blocked: full }));
  assert.equal(g.state, 'Online');
  assert.equal(g.blockedBy, 'QUORUM_DISK_FULL');
  assert.match(g.reason!, /taking it offline on n2 to move it blocked/);
});

test('a group never placed has no owner to be Down', () => {
  assert.deepEqual(shownGroup(facts({ rec: undefined, ownerState: undefined, resourceStates: ['Offline'] })), { state: 'Offline' });
});
