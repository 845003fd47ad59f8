// Rule 4 (term-rule.ts): a leadership write lands only under the store's coordinator term; the
// simulator's stale-term tooth switches that check off, production never does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { termAdmits, termRuleWith } from './term-rule.js';

test('a write is admitted only under the current term; the stale-term flaw admits every term', () => {
  assert.equal(termAdmits(3, 3), true);
  assert.equal(termAdmits(2, 3), false);
  assert.equal(termAdmits(4, 3), false);
  const flawed = termRuleWith({ acceptStaleTerm: true });
  assert.equal(flawed(2, 3), true);
  assert.equal(termRuleWith({}).call(null, 2, 3), false);
});
