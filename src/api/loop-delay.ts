// How long this process's event loop was blocked: the longest turn is what delays a status answer,
// a cycle and every other request. Measured by Node's own sampler (a native timer, no JavaScript
// callback per sample) and exported on /metrics, so a benchmark or an operator can see it from
// outside the process.
//
// The sampler starts at the first scrape of /metrics, not with the process: it wakes the loop 50
// times a second, and on the 2-core test machine each wake-up of an idle process costs about
// 0.1 ms of CPU, half a percent of a core that a node nobody scrapes would spend for nothing.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Gauge, Registry } from 'prom-client';

/** Sampling resolution: a turn shorter than this is not seen; 20 ms is the bound long work keeps to. */
const resolutionMs = 20;

let histogram: IntervalHistogram | null = null;

/** Starts the sampler once per process (idempotent). */
function startLoopDelay(): IntervalHistogram {
  if (histogram === null) {
    histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    histogram.enable();
  }
  return histogram;
}

/** Registers the sampler's gauges in `registry` (prom-client's Gauge class given by the caller, which loads prom-client when first scraped). */
export function registerLoopDelay(registry: Registry, GaugeClass: typeof Gauge): void {
  const h = startLoopDelay();
  // The sampler reports lateness past its own interval: that lateness is the blocking turn.
  new GaugeClass({
    name: 'clusterd_event_loop_delay_max_seconds', help: 'Longest delay of the event loop since the first scrape of /metrics (the longest turn of work, within 20 ms; the sampler starts at that scrape)', registers: [registry],
    collect(this: Gauge<string>) { this.set(h.max / 1e9); },
  });
  new GaugeClass({
    name: 'clusterd_event_loop_delay_p99_seconds', help: '99th percentile of the event loop delay since the first scrape of /metrics', registers: [registry],
    collect(this: Gauge<string>) { this.set(h.percentile(99) / 1e9); },
  });
}
