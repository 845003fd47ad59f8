import { test } from 'node:test';
import assert from 'node:assert/strict';
import { msText, roundMs } from './duration-text.js';

test('msText: whole milliseconds from 10 ms up, one decimal below, never a raw float', () => {
  const cases: [number, string][] = [
    [2106.1003009999986, '2106 ms'],
    [10, '10 ms'],
    [9.96, '10 ms'],
    [9.94, '9.9 ms'],
    [2.54, '2.5 ms'],
    [3, '3 ms'],
    [0.04, '0 ms'],
    [-0.04, '0 ms'],
    [0, '0 ms'],
    [-12.6, '-13 ms'],
    [600_000, '600000 ms'],
    [Infinity, 'Infinity ms'],
  ];
  for (const [ms, text] of cases) assert.equal(msText(ms), text, `msText(${ms})`);
});

test('roundMs: what msText prints, and no float noise from any fraction', () => {
  for (let i = 0; i < 2_000; i++) {
    const ms = i * 1.0000001 + i / 7;
    const text = String(roundMs(ms));
    assert.match(text, /^\d+(\.\d)?$/, `roundMs(${ms}) = ${text}`);
    assert.ok(Math.abs(roundMs(ms) - ms) <= 0.5, `roundMs(${ms}) is within half a millisecond`);
  }
});
