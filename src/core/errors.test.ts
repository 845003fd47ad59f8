// The error registry: every code has its HTTP status and `cluster` exit code in its row, the
// statuses of the codes that existed before the registry carried them are unchanged, and a
// row's hint is used only where the site gives none.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterError, errorCodes, exitCodeOf, exitFailed, exitUsage, httpStatusOf, type ErrorCode } from './errors.js';

const codes = Object.keys(errorCodes) as ErrorCode[];

test('every code has an HTTP status, an exit code and a meaning', () => {
  for (const code of codes) {
    const row = errorCodes[code];
    assert.match(code, /^[A-Z][A-Z0-9_]*[A-Z0-9]$/, `${code}: codes are UPPER_SNAKE`);
    assert.ok(Number.isInteger(row.http) && row.http >= 400 && row.http <= 599, `${code}: HTTP status ${row.http} is an error status`);
    assert.ok(row.exit === exitFailed || row.exit === exitUsage, `${code}: exit code ${row.exit}`);
    assert.ok(row.meaning.length > 0, `${code}: meaning`);
    assert.equal(httpStatusOf(code), row.http);
    assert.equal(exitCodeOf(code), row.exit);
  }
});

/**
 * What the API answered for each code when the status was derived from the code's name (and,
 * for BACKUP_* codes, by the backup routes' own rule). A change here is a change of the API.
 */
const statusesBefore: Record<string, number> = {
  BACKUP_ALREADY_FROZEN: 409, BACKUP_FAILED: 409, BACKUP_FREEZE_TIMEOUT: 409, BACKUP_NOT_FOUND: 404, BACKUP_NOT_READY: 409,
  BACKUP_NO_WRITERS: 400, BACKUP_SNAPSHOT_FAILED: 409, BACKUP_THAW_FAILED: 409,
  BAD_ARGUMENT: 400, BAD_CONFIG: 400, BAD_PROPERTY: 400, BAD_TIMING: 400,
  CLUSTER_EXISTS: 409, CLUSTER_NOT_FOUND: 404,
  DEPENDENCY_CYCLE: 400, DEPENDENCY_EXISTS: 409, DEPENDENCY_NOT_FOUND: 404, DEPENDENCY_OTHER_GROUP: 400,
  ENDPOINT_UNREACHABLE: 400,
  GROUP_EXISTS: 409, GROUP_NOT_EMPTY: 409, GROUP_NOT_FOUND: 404,
  INTERNAL: 500,
  MAINTENANCE_FAILED: 400, MAINTENANCE_NOT_ALLOWED: 409, MAINTENANCE_PENDING: 409, MAINTENANCE_TRANSITION_REFUSED: 409,
  NODE_IS_UP: 400, NODE_NAME_IN_USE: 400, NODE_NOT_FOUND: 404, NODE_NOT_UP: 400, NODE_STARTING: 503, NO_COORDINATOR: 503,
  QUORUM_DISK_FULL: 507, QUORUM_LOG_DAMAGED: 400, QUORUM_UNAVAILABLE: 503,
  RESOURCE_EXISTS: 409, RESOURCE_FAILED: 400, RESOURCE_HAS_DEPENDENTS: 409, RESOURCE_NOT_FOUND: 404, RESOURCE_NOT_OFFLINE: 400,
  RESOURCE_NOT_POSSIBLE_OWNER: 400, RESOURCE_TYPE_UNKNOWN: 400,
  SEQ_CONFLICT: 503, STALE_TERM: 503, STORE_BEHIND: 400, TIMEOUT: 400,
};

test('the codes that existed before the registry keep their HTTP status', () => {
  for (const [code, status] of Object.entries(statusesBefore)) {
    assert.ok(code in errorCodes, `${code} is permanent: it stays in the registry`);
    assert.equal(httpStatusOf(code), status, code);
  }
});

test('codes that replaced wrong ones answer as what they are', () => {
  // A refused move names the node, not a resource; a schema mismatch and an oversized value are not an unreachable store.
  assert.equal(httpStatusOf('NODE_NOT_POSSIBLE_OWNER'), 400);
  assert.equal(httpStatusOf('STORE_SCHEMA_MISMATCH'), 503);
  assert.equal(httpStatusOf('STORE_VALUE_TOO_LARGE'), 507);
  // A full commit queue is not a bad request: the same request succeeds later (was 400).
  assert.equal(httpStatusOf('QUORUM_BUSY'), 429);
  assert.equal(httpStatusOf('NODE_BUSY'), 429);
});

test('cluster exits 2 for a command refused for what was written, 1 for any other failure, 1 for a code it does not know', () => {
  for (const code of ['BAD_ARGUMENT', 'BAD_PROPERTY', 'BAD_TIMING', 'RESOURCE_TYPE_UNKNOWN']) assert.equal(exitCodeOf(code), exitUsage, code);
  for (const code of ['BAD_CONFIG', 'GROUP_NOT_FOUND', 'ENDPOINT_UNREACHABLE', 'TIMEOUT', 'RESOURCE_FAILED', 'BACKUP_FAILED']) assert.equal(exitCodeOf(code), exitFailed, code);
  assert.equal(exitCodeOf('SOME_NEWER_SERVER_CODE'), exitFailed);
  assert.equal(httpStatusOf('SOME_NEWER_SERVER_CODE'), 500);
  assert.equal(exitCodeOf('toString'), exitFailed, 'only the registry\'s own rows count');
});

test('a row\'s hint fills in where the site gives none, never over the site\'s own', () => {
  const withRowHint = codes.find((c) => 'hint' in errorCodes[c])!;
  assert.ok(withRowHint, 'some rows carry a hint');
  assert.equal(clusterError(withRowHint, 'x').hint, (errorCodes[withRowHint] as { hint: string }).hint);
  assert.equal(clusterError(withRowHint, 'x', 'do this').hint, 'do this');
  assert.equal(clusterError('GROUP_NOT_FOUND', 'x').hint, undefined);
  assert.deepEqual(clusterError(withRowHint, 'x').toJSON().hint, (errorCodes[withRowHint] as { hint: string }).hint);
});
