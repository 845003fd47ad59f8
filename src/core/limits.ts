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
