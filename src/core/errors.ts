// One registry of every error an operator can see. Codes are permanent: tests check the
// code, never the text. Each error names the thing, the rule and the value, and says what
// to do (the hint).

export const errorCodes = {
  BAD_ARGUMENT: 'an argument or request body is malformed',
  BAD_CONFIG: 'a configuration file or setting is invalid',
  BAD_TIMING: 'timing settings are inconsistent (for example self-fence deadline >= lease TTL)',
  NODE_NOT_FOUND: 'no node by that name',
  GROUP_NOT_FOUND: 'no group by that name',
  RESOURCE_NOT_FOUND: 'no resource by that name',
  GROUP_EXISTS: 'a group by that name exists already',
  RESOURCE_EXISTS: 'a resource by that name exists already',
  GROUP_NOT_EMPTY: 'the group still has resources',
  RESOURCE_NOT_OFFLINE: 'the resource (or its group) must be offline for this change',
  RESOURCE_HAS_DEPENDENTS: 'other resources depend on this one',
  DEPENDENCY_CYCLE: 'the dependency would create a cycle',
  DEPENDENCY_OTHER_GROUP: 'dependencies must stay inside one group',
  DEPENDENCY_NOT_FOUND: 'the dependency does not exist',
  DEPENDENCY_EXISTS: 'the dependency exists already',
  BAD_PROPERTY: 'unknown property or value out of range',
  RESOURCE_TYPE_UNKNOWN: 'unknown resource type',
  RESOURCE_NOT_POSSIBLE_OWNER: 'the node is not a possible owner of the group',
  NODE_NOT_UP: 'the node is not Up',
  NODE_IS_UP: 'the node must be Down for this operation',
  NO_COORDINATOR: 'no coordinator is elected right now',
  STALE_TERM: 'the write carried a term older than the current coordinator term',
  SEQ_CONFLICT: 'the quorum log moved on while the update was prepared',
  QUORUM_DISK_FULL: 'the quorum directory (or a node data directory) has not enough free space',
  QUORUM_LOG_DAMAGED: 'a quorum-log record or checkpoint fails its checksum or is missing, before the tail',
  QUORUM_DB_DAMAGED: 'the quorum store\'s database file is damaged (truncated or malformed) and cannot be read at all',
  HISTORY_DIVERGED: 'this node\'s copy of the database and the quorum store hold different histories after a common point (a reset or no-logging run started a new one)',
  STORE_BEHIND: 'the quorum store holds an older configuration than this node has applied',
  QUORUM_BUSY: 'too many configuration updates are waiting to be committed',
  RESOURCE_FAILED: 'the resource failed while the command waited for it',
  QUORUM_UNAVAILABLE: 'the quorum store cannot be reached or opened',
  NODE_STARTING: 'the node is starting and has not read the quorum store yet; nothing was done',
  CLUSTER_EXISTS: 'a cluster exists already in that quorum store',
  CLUSTER_NOT_FOUND: 'no cluster in that quorum store',
  NODE_NAME_IN_USE: 'another live clusterd runs with that node name',
  ENDPOINT_UNREACHABLE: 'the clusterd API endpoint does not answer',
  TIMEOUT: 'the operation did not finish in time',
  MAINTENANCE_NOT_ALLOWED: 'maintenance modes are only for Online disk resources (not the witness, not other types)',
  MAINTENANCE_TRANSITION_REFUSED: 'that maintenance transition is not allowed from the current mode (Online <-> Maintenance <-> Ext Maintenance)',
  MAINTENANCE_PENDING: 'a maintenance transition (internal dismount or remount) is still in progress',
  MAINTENANCE_FAILED: 'a maintenance transition could not be completed (the internal dismount or remount failed)',
  DISK_SECTOR_EPOCH_AHEAD: 'a disk\'s private sector holds a newer epoch than the one its group is brought online with: another cluster uses the disk, or this cluster\'s store was rebuilt (clear it with clusterd disk clear-sector)',
  DISK_SECTOR_IN_USE: 'clusterd disk clear-sector refused: a node holds the disk Online (its private sector moves, or the device is mounted here)',
  BACKUP_NO_WRITERS: 'the group (or resource) has no writer: no resource of it declares freeze and thaw actions (freezeSignal, freezeCommand, freeze=fsfreeze)',
  BACKUP_NOT_READY: 'the group is not running on one node with every writer Online (a writer is pending, failed, offline or in extended maintenance; the group is moving or its node is stopping)',
  BACKUP_ALREADY_FROZEN: 'a backup of that group is under way already (freezing, frozen or still thawing): one backup per group at a time',
  BACKUP_NOT_FOUND: 'no backup by that id (the node that held it may have restarted: see cluster log)',
  BACKUP_FREEZE_TIMEOUT: 'the freeze limit passed before the thaw: the cluster thawed every writer itself and the backup failed (the snapshot may not be consistent)',
  BACKUP_FAILED: 'the backup failed before its thaw (a writer could not be frozen, the group left the node, the node failed or stopped, the resource monitor was lost); every writer was thawed',
  BACKUP_THAW_FAILED: 'a writer could not be thawed after retries: it may still be frozen',
  BACKUP_SNAPSHOT_FAILED: 'the snapshot command of cluster backup run failed or could not start; the writers were thawed',
  INTERNAL: 'a bug: please report it with the event log',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface ClusterErrorData {
  code: ErrorCode;
  message: string;
  hint?: string;
  /** Where in a request or file the problem is (for example groups.web.resources.db.dependsOn). */
  path?: string;
}

/** An expected failure, carried as a value through core and thrown only at the edges. */
export class ClusterError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly path: string | undefined;
  constructor(data: ClusterErrorData) {
    super(data.message);
    this.name = 'ClusterError';
    this.code = data.code;
    this.hint = data.hint;
    this.path = data.path;
  }
  toJSON(): ClusterErrorData {
    const out: ClusterErrorData = { code: this.code, message: this.message };
    if (this.hint !== undefined) out.hint = this.hint;
    if (this.path !== undefined) out.path = this.path;
    return out;
  }
  /** `error[CODE]: message. hint: ...` as the CLI and clusterd print it. */
  format(): string {
    return `error[${this.code}]: ${this.message}${this.hint ? `\nhint: ${this.hint}` : ''}`;
  }
}

export function clusterError(code: ErrorCode, message: string, hint?: string, path?: string): ClusterError {
  const data: ClusterErrorData = { code, message };
  if (hint !== undefined) data.hint = hint;
  if (path !== undefined) data.path = path;
  return new ClusterError(data);
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ClusterError };
export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(error: ClusterError): Result<T> => ({ ok: false, error });
