// One registry of every error an operator can see. Codes are permanent: tests check the
// code, never the text. Each error names the thing, the rule and the value, and says what
// to do (the hint). Each code's row says how every surface reports it: the HTTP status of an
// API answer, the exit code of `cluster`, and the hint used where the site that raises the
// error gives none. The surfaces read these rows; nothing derives a status from a code's name.
//
// Rows: one code per line, in alphabetical order within their section.

/** `cluster` exit codes: 0 is success; a failed command exits 1, a command refused for its arguments 2. */
export const exitFailed = 1;
export const exitUsage = 2;
const failed = exitFailed;
const usage = exitUsage;

export interface ErrorRow {
  /** HTTP status of an API answer carrying this code. */
  readonly http: 400 | 401 | 403 | 404 | 405 | 408 | 409 | 413 | 415 | 421 | 429 | 431 | 500 | 503 | 507;
  /** Exit code of the `cluster` command that ends with this code. */
  readonly exit: typeof exitFailed | typeof exitUsage;
  /** What the code means, for the error reference. */
  readonly meaning: string;
  /** What to do, where the site that raises the error gives no hint of its own. */
  readonly hint?: string;
}

export const errorCodes = {
  // Authentication, roles, TLS and browsers
  AUTH_EXISTS: { http: 409, exit: failed, meaning: 'clusterd init --auth-only was asked for a cluster whose auth directory holds a CA or node token already, or whose configuration holds credentials already (its trust lives in another auth directory)', hint: 'add users with cluster credentials add; rotate the CA as README, Security says' },
  AUTH_FORBIDDEN: { http: 403, exit: failed, meaning: 'the credential is valid but its role may not do this (viewer < operator < admin)', hint: 'ask an admin for a credential with the role named in the message (cluster credentials add USER --role ROLE)' },
  AUTH_INVALID: { http: 401, exit: failed, meaning: 'the token, session cookie or login ticket is not one the cluster knows (revoked, mistyped, expired or used)', hint: 'use the credential file clusterd init wrote (~/.config/clusterd/credentials/CLUSTER.json) or set CLUSTERD_CREDENTIALS=FILE' },
  AUTH_MISSING: { http: 500, exit: failed, meaning: 'the auth directory holds no cluster CA and no node token (a cluster made before clusterd had credentials, or the wrong --auth-dir)', hint: 'with the nodes stopped, run once clusterd init --auth-only --quorum SPEC [--auth-dir DIR]; on another machine, copy the files of clusterd cert issue and give --auth-dir DIR' },
  AUTH_REQUIRED: { http: 401, exit: failed, meaning: 'the request carries no credential (Authorization: Bearer TOKEN or the dashboard session cookie)', hint: 'the cluster CLI sends the token of ~/.config/clusterd/credentials/CLUSTER.json by itself; elsewhere set CLUSTERD_CREDENTIALS=FILE' },
  CREDENTIAL_FILE_INVALID: { http: 400, exit: failed, meaning: 'a credential file cannot be read or is not a clusterd credential file (or several match and none was chosen)' },
  CREDENTIAL_NOT_FOUND: { http: 404, exit: failed, meaning: 'no credential for that user' },
  CSRF_REJECTED: { http: 403, exit: failed, meaning: 'a state-changing request from a browser session without the x-clusterd-csrf header of the session, or from another origin' },
  HANDOFF_CREDENTIAL_CHANGED: { http: 401, exit: failed, meaning: 'a dashboard hand-off names a credential that was revoked, replaced or given another role since it was made', hint: 'log in with a current credential: cluster dashboard --url --endpoint URL' },
  HANDOFF_EXPIRED: { http: 401, exit: failed, meaning: 'a dashboard hand-off (the page moving to another node when its node stops answering) is older than its 3 minutes', hint: 'log in on this node: cluster dashboard --url --endpoint URL' },
  HANDOFF_INVALID: { http: 401, exit: failed, meaning: 'a dashboard hand-off is not signed by a node of this cluster, was altered, or is for another node', hint: 'log in on this node: cluster dashboard --url --endpoint URL' },
  HANDOFF_USED: { http: 401, exit: failed, meaning: 'a dashboard hand-off was used on this node already: each opens one session', hint: 'log in on this node: cluster dashboard --url --endpoint URL' },
  HOST_REJECTED: { http: 421, exit: failed, meaning: 'the request\'s Host header is not a name this node serves (its listen address, localhost, 127.0.0.1 or a --tls-name)', hint: 'connect through the node\'s address, or add the name with clusterd start --tls-name NAME' },
  TLS_NOT_CONFIGURED: { http: 400, exit: failed, meaning: 'TLS is needed but this node has no certificate: neither the cluster CA key nor a node certificate in its auth directory' },
  TLS_REQUIRED: { http: 400, exit: failed, meaning: 'a non-loopback --listen without TLS: the API would carry tokens in clear on the network', hint: 'drop --no-tls (nodes serve HTTPS with a certificate from the cluster CA), or listen on 127.0.0.1' },
  // Requests and settings
  APPLY_TOO_LARGE: { http: 413, exit: usage, meaning: 'an apply document has more groups or resources than one apply takes (applyGroupsMax, applyResourcesMax)' },
  BAD_ARGUMENT: { http: 400, exit: usage, meaning: 'an argument or request body is malformed' },
  BAD_CONFIG: { http: 400, exit: failed, meaning: 'a configuration file or setting is invalid' },
  BAD_PROPERTY: { http: 400, exit: usage, meaning: 'unknown property or value out of range' },
  BAD_TIMING: { http: 400, exit: usage, meaning: 'timing settings are inconsistent (for example self-fence deadline >= lease TTL)' },
  ETCD_TIMING_UNFIT: { http: 400, exit: usage, meaning: 'etcd\'s election timeout (read from a member\'s command line or stated with --etcd-election-timeout) is too long for clusterd\'s self-fence deadline: a leader change would fence every node' },
  ETCD_TIMING_UNKNOWN: { http: 400, exit: usage, meaning: 'a warning at start: etcd\'s election timeout could not be read from a member and was not stated with --etcd-election-timeout, so it could not be checked' },
  // The cluster's contents: names, groups, resources, dependencies
  CLUSTER_EXISTS: { http: 409, exit: failed, meaning: 'a cluster exists already in that quorum store' },
  CLUSTER_NOT_FOUND: { http: 404, exit: failed, meaning: 'no cluster in that quorum store' },
  DEPENDENCY_CYCLE: { http: 400, exit: failed, meaning: 'the dependency would create a cycle' },
  DEPENDENCY_EXISTS: { http: 409, exit: failed, meaning: 'the dependency exists already' },
  DEPENDENCY_NOT_FOUND: { http: 404, exit: failed, meaning: 'the dependency does not exist' },
  DEPENDENCY_OTHER_GROUP: { http: 400, exit: failed, meaning: 'dependencies must stay inside one group' },
  GROUP_EXISTS: { http: 409, exit: failed, meaning: 'a group by that name exists already' },
  GROUP_NOT_EMPTY: { http: 409, exit: failed, meaning: 'the group still has resources' },
  GROUP_NOT_FOUND: { http: 404, exit: failed, meaning: 'no group by that name' },
  NODE_NOT_FOUND: { http: 404, exit: failed, meaning: 'no node by that name' },
  RESOURCE_EXISTS: { http: 409, exit: failed, meaning: 'a resource by that name exists already' },
  RESOURCE_HAS_DEPENDENTS: { http: 409, exit: failed, meaning: 'other resources depend on this one' },
  RESOURCE_NOT_FOUND: { http: 404, exit: failed, meaning: 'no resource by that name' },
  RESOURCE_NOT_OFFLINE: { http: 400, exit: failed, meaning: 'the resource (or its group) must be offline for this change' },
  RESOURCE_TYPE_UNKNOWN: { http: 400, exit: usage, meaning: 'unknown resource type' },
  RESOURCE_TYPE_UNSUPPORTED: { http: 400, exit: usage, meaning: 'the resource type is named in the model but has no agent in this build' },
  // Nodes, placement and resources at run time
  IP_ADDRESS_IN_USE: { http: 409, exit: failed, meaning: 'an ip resource was not brought online: another host answers for its address on the link (ARP reply, or IPv6 duplicate address detection)', hint: 'remove the address from the host that holds it, or give the resource another address' },
  NODE_BUSY: { http: 429, exit: failed, meaning: 'the node handles as many write requests (or applies) at once as it takes (writesInFlightMax, appliesInFlightMax), or its event loop is saturated; nothing was done, reads are still answered', hint: 'retry after the Retry-After seconds' },
  NODE_IS_UP: { http: 400, exit: failed, meaning: 'the node must be Down for this operation' },
  NODE_NAME_IN_USE: { http: 400, exit: failed, meaning: 'another live clusterd runs with that node name' },
  NODE_NOT_POSSIBLE_OWNER: { http: 400, exit: failed, meaning: 'the group cannot move to (or run on) that node: the node is not one of its possible owners' },
  NODE_NOT_UP: { http: 400, exit: failed, meaning: 'the node is not Up' },
  NODE_STARTING: { http: 503, exit: failed, meaning: 'the node is starting and has not read the quorum store yet; nothing was done', hint: 'retry in a moment (the cluster CLI retries by itself)' },
  NO_COORDINATOR: { http: 503, exit: failed, meaning: 'no coordinator is elected right now', hint: 'retry in a moment: a coordinator is elected within one lease TTL' },
  RESOURCE_FAILED: { http: 400, exit: failed, meaning: 'the resource failed while the command waited for it' },
  RESOURCE_NOT_POSSIBLE_OWNER: { http: 400, exit: failed, meaning: 'the resource cannot come online on that node: the node is not a possible owner of its group' },
  // Disks: maintenance modes and private sectors
  DISK_SECTOR_EPOCH_AHEAD: { http: 409, exit: failed, meaning: 'a disk\'s private sector holds a newer epoch than the one its group is brought online with: another cluster uses the disk, or this cluster\'s store was rebuilt (clear it with clusterd disk clear-sector)' },
  DISK_SECTOR_IN_USE: { http: 409, exit: failed, meaning: 'clusterd disk clear-sector refused: a node holds the disk Online (its private sector moves, or the device is mounted here)' },
  MAINTENANCE_FAILED: { http: 400, exit: failed, meaning: 'a maintenance transition could not be completed (the internal dismount or remount failed)' },
  MAINTENANCE_NOT_ALLOWED: { http: 409, exit: failed, meaning: 'maintenance modes are only for Online disk resources (not other types)' },
  MAINTENANCE_PENDING: { http: 409, exit: failed, meaning: 'a maintenance transition (internal dismount or remount) is still in progress' },
  MAINTENANCE_TRANSITION_REFUSED: { http: 409, exit: failed, meaning: 'that maintenance transition is not allowed from the current mode (Online <-> Maintenance <-> Ext Maintenance)' },
  // Resource agents (ocf and lsb resources)
  AGENT_CHECK_FAILED: { http: 409, exit: failed, meaning: 'the agent could not be checked when the resource was saved (its meta-data failed or timed out, or the resource monitor did not answer); nothing was saved', hint: 'run the agent by hand (OCF_ROOT=/usr/lib/ocf $OCF_ROOT/resource.d/PROVIDER/AGENT meta-data) and fix it, then save again' },
  AGENT_CHECK_REFUSED: { http: 400, exit: failed, meaning: 'the agent check refused the resource on its possible owners for different reasons (the message names each as CODE on NODE); nothing was saved', hint: 'fix the agent or the parameters on each node named, or restrict the group\'s possible owners to the nodes that have the agent (cluster group G /prop possibleOwners=N1,N2)' },
  AGENT_INVALID: { http: 400, exit: failed, meaning: 'the agent\'s validate-all refused the resource\'s parameters when it was saved (its exit code and output say why); nothing was saved' },
  AGENT_NOT_FOUND: { http: 400, exit: failed, meaning: 'no such OCF agent under OCF_ROOT/resource.d (or LSB script in /etc/init.d) on the node that checked it, or it is not executable; nothing was saved', hint: 'cluster agents lists the OCF agents installed (Debian: apt install resource-agents)' },
  AGENT_PARAM_MISSING: { http: 400, exit: failed, meaning: 'a parameter the agent\'s meta-data marks required is not in the resource\'s params; nothing was saved', hint: 'cluster agents PROVIDER:AGENT lists its parameters' },
  // Backups (freeze and thaw)
  BACKUP_ALREADY_FROZEN: { http: 409, exit: failed, meaning: 'a backup of that group is under way already (freezing, frozen or still thawing): one backup per group at a time' },
  BACKUP_FAILED: { http: 409, exit: failed, meaning: 'the backup failed before its thaw (a writer could not be frozen, the group left the node, the node failed or stopped, the resource monitor was lost); every writer was thawed' },
  BACKUP_FREEZE_TIMEOUT: { http: 409, exit: failed, meaning: 'the freeze limit passed before the thaw: the cluster thawed every writer itself and the backup failed (the snapshot may not be consistent)' },
  BACKUP_NOT_FOUND: { http: 404, exit: failed, meaning: 'no backup by that id (the node that held it may have restarted: see cluster log)' },
  BACKUP_NOT_READY: { http: 409, exit: failed, meaning: 'the group is not running on one node with every writer Online (a writer is pending, failed, offline or in extended maintenance; the group is moving or its node is stopping)' },
  BACKUP_NO_WRITERS: { http: 400, exit: failed, meaning: 'the group (or resource) has no writer: no resource of it declares freeze and thaw actions (freezeSignal, freezeCommand, freeze=fsfreeze)' },
  BACKUP_SNAPSHOT_FAILED: { http: 409, exit: failed, meaning: 'the snapshot command of cluster backup run failed or could not start; the writers were thawed' },
  BACKUP_THAW_FAILED: { http: 409, exit: failed, meaning: 'a writer could not be thawed after retries: it may still be frozen' },
  // Quorum store and cluster database
  HISTORY_DIVERGED: { http: 409, exit: failed, meaning: 'this node\'s copy of the database and the quorum store hold different histories after a common point (a reset or no-logging run started a new one)' },
  QUORUM_BUSY: { http: 429, exit: failed, meaning: 'too many configuration updates are waiting to be committed (the coordinator\'s commit queue is full); nothing was done', hint: 'retry after the Retry-After seconds: the coordinator is committing other changes' },
  QUORUM_DB_DAMAGED: { http: 503, exit: failed, meaning: 'the quorum store\'s database file is damaged (truncated or malformed) and cannot be read at all' },
  QUORUM_DISK_FULL: { http: 507, exit: failed, meaning: 'the quorum directory (or a node data directory) has not enough free space' },
  QUORUM_FLOOR_UNREADABLE: { http: 409, exit: failed, meaning: 'an operator recovery was refused: the floor (highest term and epoch used) a node recorded in its lease slot cannot be read, so a token could be used twice' },
  QUORUM_LOG_DAMAGED: { http: 400, exit: failed, meaning: 'a quorum-log record or checkpoint fails its checksum or is missing, before the tail' },
  QUORUM_NODES_RUNNING: { http: 409, exit: failed, meaning: 'a store rebuild was refused: other nodes\' leases still move (their clusterd runs, and may run groups the rebuilt store would give away)' },
  QUORUM_UNAVAILABLE: { http: 503, exit: failed, meaning: 'the quorum store cannot be reached or opened' },
  SEQ_CONFLICT: { http: 503, exit: failed, meaning: 'the quorum log moved on while the update was prepared' },
  STALE_TERM: { http: 503, exit: failed, meaning: 'the write carried a term older than the current coordinator term' },
  STORE_BEHIND: { http: 400, exit: failed, meaning: 'the quorum store holds an older configuration than this node has applied' },
  STORE_SCHEMA_MISMATCH: { http: 503, exit: failed, meaning: 'the quorum store was written with another schema version than this clusterd reads', hint: 'run the clusterd version that created this cluster, or upgrade this one' },
  STORE_VALUE_TOO_LARGE: { http: 507, exit: failed, meaning: 'a value is larger than the quorum store accepts in one write (for example a configuration over etcd\'s request size limit)' },
  // HTTP requests the API cannot take as sent
  BAD_JSON: { http: 400, exit: usage, meaning: 'a request body is not valid JSON, or holds a key that would reach an object prototype (__proto__, constructor.prototype)' },
  BODY_TOO_DEEP: { http: 400, exit: usage, meaning: 'a request body nests objects or arrays deeper than the API reads (bodyDepthMax, 32 levels)' },
  BODY_TOO_LARGE: { http: 413, exit: usage, meaning: 'a request body is larger than the API reads (1 MiB; 16 MiB for an apply document)', hint: 'split the change: apply a few groups at a time' },
  HEADERS_TOO_LARGE: { http: 431, exit: usage, meaning: 'the request\'s headers are larger than the node reads' },
  METHOD_NOT_ALLOWED: { http: 405, exit: usage, meaning: 'the route exists but not for that method; the Allow header lists the methods it takes' },
  REQUEST_TIMEOUT: { http: 408, exit: failed, meaning: 'the node did not receive the whole request in time (requestTimeoutMs): its headers or its body stalled; nothing was done', hint: 'send the request again, whole: a client or proxy that holds the body back is cut off at the limit' },
  ROUTE_NOT_FOUND: { http: 404, exit: usage, meaning: 'no API route has that path', hint: 'the routes are listed in the README (HTTP API); a newer clusterd may have more' },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, exit: usage, meaning: 'a request body is not application/json, the only type the API takes' },
  // Files of clusterd and of its resources
  UNSAFE_PATH: { http: 400, exit: failed, meaning: 'clusterd refused a data or quorum directory: owned by another user, writable by group or others, or reached through a symlink (or a directory on the way is)', hint: 'let clusterd create the directory itself (0700), or chown it to clusterd\'s user and chmod 700 it, and give its real path' },
  // Reaching clusterd, waiting, bugs
  ENDPOINT_UNREACHABLE: { http: 400, exit: failed, meaning: 'the clusterd API endpoint does not answer' },
  INTERNAL: { http: 500, exit: failed, meaning: 'a bug: please report it with the event log', hint: 'report it with the output of cluster log --limit 100' },
  STREAM_LIMIT: { http: 503, exit: failed, meaning: 'the node serves as many event streams as its limit (streamsMax); the new stream was refused', hint: 'retry after the Retry-After seconds, or read GET /v1/events' },
  STREAM_TOO_SLOW: { http: 503, exit: failed, meaning: 'the event stream was closed because its reader did not keep up (took nothing for stallMs, or let too many bytes wait)', hint: 'reconnect with Last-Event-ID to resume after the last event received' },
  TIMEOUT: { http: 400, exit: failed, meaning: 'the operation did not finish in time' },
} as const satisfies Record<string, ErrorRow>;

export type ErrorCode = keyof typeof errorCodes;

/** The row of a code, or undefined for a code this build does not know (a newer server's). */
export function errorRow(code: string): ErrorRow | undefined {
  return Object.hasOwn(errorCodes, code) ? (errorCodes as Record<string, ErrorRow>)[code] : undefined;
}

/** HTTP status for an answer carrying `code`; an unknown code is a bug here (500). */
export function httpStatusOf(code: string): number {
  return errorRow(code)?.http ?? 500;
}

/** Exit code of `cluster` for a command that ends with `code`; an unknown code (a newer server's) is a failure. */
export function exitCodeOf(code: string): number {
  return errorRow(code)?.exit ?? exitFailed;
}

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
    this.hint = data.hint ?? errorRow(data.code)?.hint;
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
