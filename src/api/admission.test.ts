// Admission's saturation check: a loop kept busy turn after turn refuses writes (NODE_BUSY); one
// on time again takes them. No timing assertion: the busy turns are made far longer than the limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admission, saturatedLagMs } from './admission.js';

const busy = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end) { /* hold the loop */ } };
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

test('a saturated event loop refuses writes with NODE_BUSY; a loop on time again takes them', async () => {
  const a = new Admission();
  a.watchLoop();
  try {
    assert.equal(a.enter(false), null, 'an idle node takes a write');
    a.leave(false);
    for (let i = 0; i < 6 && a.saturated() === null; i++) {
      busy(saturatedLagMs * 2);
      await turn();
    }
    const refused = a.enter(false);
    assert.equal(refused?.code, 'NODE_BUSY', 'writes are refused while every check is late');
    assert.match(refused.message, /event loop is saturated/);
    assert.equal(a.writes, 0, 'a refused write takes no place');
    // One long turn alone is no saturation: the next checks on time clear it.
    for (let i = 0; i < 200 && a.saturated() !== null; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(a.enter(false), null, 'writes are taken again');
    a.leave(false);
  } finally {
    a.stop();
  }
});
