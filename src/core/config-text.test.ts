import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { applyUpdate, configJson, emptyConfig } from './config.js';
import { configJsonSteps } from './config-text.js';
import type { ClusterConfig } from './types.js';

function run<T>(steps: Generator<void, T>): { value: T; steps: number } {
  let n = 0;
  for (;;) {
    const s = steps.next();
    if (s.done) return { value: s.value, steps: n };
    n++;
  }
}

function config(groups: number, perGroup: number): ClusterConfig {
  let c = emptyConfig('text');
  const step = (u: Parameters<typeof applyUpdate>[1]) => { const r = applyUpdate(c, u); assert.ok(r.ok); c = r.value; };
  step({ op: 'node-add', node: 'n1' });
  for (let g = 0; g < groups; g++) {
    step({ op: 'group-create', group: `g${g}`, preferredOwners: g % 2 ? ['n1'] : [] });
    for (let r = 0; r < perGroup; r++) step({ op: 'resource-create', resource: `g${g}r${r}`, group: `g${g}`, type: 'process', props: {}, priv: { command: '/bin/sleep', args: ['1', 'é"\\'] } });
  }
  return c;
}

test('configJsonSteps makes the text of JSON.stringify, in steps bounded by the number of entries', () => {
  for (const [g, r] of [[0, 0], [1, 1], [3, 2], [250, 4]] as const) {
    const c = config(g, r);
    const expected = JSON.stringify(c);
    const { value, steps } = run(configJsonSteps(c));
    assert.equal(value, expected);
    assert.ok(steps <= Math.ceil((g + g * r) / 200) + 1, `${steps} steps`);
    assert.equal(configJson(c), expected, 'the text is remembered for configJson');
  }
});

test('configJsonSteps equals JSON.stringify on arbitrary plain maps, undefined values left out', () => {
  const value = fc.oneof(fc.string(), fc.integer(), fc.constant(undefined), fc.constant(null), fc.array(fc.string()), fc.dictionary(fc.string(), fc.string()));
  fc.assert(fc.property(fc.string(), fc.dictionary(fc.string(), value), fc.dictionary(fc.string(), value), (name, groups, resources) => {
    const c = { name, nodes: {}, groups, resources } as unknown as ClusterConfig;
    assert.equal(run(configJsonSteps(c)).value, JSON.stringify(c));
  }));
});
