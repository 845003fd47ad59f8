// Bounds that more than one layer must agree on. A bound used in one place stays beside its
// use; one that a reader and a writer (or every store backend) must share lives here, once.

/**
 * Records per read of the quorum log. Every backend answers at most this many, and every reader
 * pages with it: a page shorter than what was asked for is the end of the log, so a reader that
 * asked for more than a backend answers would stop early. It also bounds the work of one
 * catch-up step on a node, so that a long catch-up does not stall its cycle. Why 5,000: records
 * are a few hundred bytes of JSON, so a page stays around a megabyte on every backend.
 */
export const logReadMax = 5_000;

/**
 * Calls sent to the monitor and not answered yet, at most. Calls beyond wait in the client's
 * queue, first in first out, and are never refused; a call's timeout starts when it is sent. The
 * monitor paces its spawns (one blocks its loop 2 to 50 ms on a 2-core host, busy or not), so a
 * call sent behind 63 others waits at most about 3 s for its spawn, well inside any sensible
 * pending timeout, and 64 keep the spawns going back to back; a call that only waits (a probe, a
 * stop grace) holds a slot cheaply.
 *
 * The node shell reads it too: past it calls queue in the client, and a node whose start and stop
 * calls reach it rests longer between cycles (node/cycle-runner.ts).
 */
export const monitorCallsInFlightMax = 64;

/**
 * Bytes of one apply document, at most: the API reads a `POST /v1/apply` body this large
 * (api/server.ts), and `cluster apply -f` reads a file as large (YAML is about as large as its
 * JSON). It may hold applyResourcesMax (20,000) resources of a few hundred bytes each (10,000
 * `/bin/sleep` resources in groups of 10 are 1.1 MiB of JSON).
 */
export const applyDocumentBytesMax = 16 << 20;
