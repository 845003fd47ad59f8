import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { PlainHistogram } from './metrics.js';

const buckets = [0.001, 0.01, 0.1, 1];
const sorted = (text: string) => text.split('\n').filter(Boolean).sort();

test('a PlainHistogram exposes what prom-client\'s Histogram exposes for the same observations', async () => {
  const plainRegistry = new Registry();
  const promRegistry = new Registry();
  const plain = new PlainHistogram('x_seconds', 'help "text"\nsecond line', ['route', 'code'], buckets);
  const prom = new Histogram({ name: 'x_seconds', help: 'help "text"\nsecond line', labelNames: ['route', 'code'], buckets, registers: [promRegistry] });
  plainRegistry.registerMetric(plain.metric() as never);
  const seen: [Record<string, string>, number][] = [
    [{ route: '/v1/status', code: '200' }, 0.0005], [{ route: '/v1/status', code: '200' }, 0.001], [{ route: '/v1/status', code: '200' }, 0.05],
    [{ route: '/v1/groups/:group', code: '404' }, 3], [{ route: 'quote"and\\back', code: '500' }, 0.2], [{ route: '/v1/status', code: '200' }, 1],
  ];
  for (const [labels, v] of seen) { plain.observe(labels, v); prom.observe(labels, v); }
  assert.deepEqual(sorted(await plainRegistry.metrics()), sorted(await promRegistry.metrics()));
});

test('a PlainHistogram keeps one series per label set, however many observations', () => {
  const plain = new PlainHistogram('y_seconds', 'y', ['result'], buckets);
  for (let i = 0; i < 10_000; i++) plain.observe({ result: i % 2 === 0 ? 'ok' : 'QUORUM_BUSY' }, i / 10_000);
  const { values } = plain.metric().get();
  assert.equal(values.length, 2 * (buckets.length + 3));
  assert.equal(values.find((v) => v.metricName === 'y_seconds_count' && v.labels['result'] === 'ok')?.value, 5_000);
});

test('the request log never writes a login ticket down', async () => {
  const { loggedUrl } = await import('./metrics.js');
  assert.equal(loggedUrl('/login?ticket=abc123'), '/login?ticket=[redacted]');
  assert.equal(loggedUrl('/login?next=%2F&ticket=abc&x=1'), '/login?next=%2F&ticket=[redacted]&x=1');
  assert.equal(loggedUrl('/v1/status'), '/v1/status');
});
