// Every cluster event clusterd emits, with the level(s) it is emitted at: one registry, so that
// an event name is a type (EventName), never a free string. The emitting functions (the node's
// emitEvent, core's event actions, placement notes, conditions) accept only these names; a new
// event gets its row here. Conditions (core/conditions.ts) emit their key while they last and
// KEY_RECOVERED when they end.

export type EventLevelName = 'info' | 'warning' | 'error';

export const eventRegistry = Object.freeze({
  // node life
  NODE_STARTING: ['info'], NODE_STARTED: ['info'], NODE_UP: ['info'], NODE_DRAINING: ['info'], NODE_DRAINED: ['info'],
  NODE_LEASE_LOST: ['error'], NODE_STALLED: ['error'], NODE_SELF_FENCED: ['error'], SHUTDOWN_TIMEOUT: ['error'],
  HEARTBEAT_STOPPING: ['info'], HEARTBEAT_FAILED: ['error'],
  // membership as the coordinator judges it (core/membership.ts nodeStateNotes)
  NODE_DOWN: ['warning'], NODE_PAUSED: ['info'], NODE_JOINING: ['info'],
  // coordinator and placement
  COORDINATOR_ELECTED: ['info'], COORDINATOR_LOST: ['warning'], COORDINATOR_RELEASED: ['info'],
  GROUP_PLACED: ['info'], GROUP_MOVED: ['info', 'warning'], GROUP_FAILOVER: ['warning'], GROUP_MOVING: ['info'], GROUP_NO_NODE: ['error'],
  GROUP_FAILOVER_THRESHOLD: ['error'], GROUP_MOVE_REQUESTED: ['info'],
  // this node's groups and resources
  GROUP_ASSIGNED: ['info'], GROUP_RELEASED: ['info'], GROUP_REVOKED: ['info', 'warning'], GROUP_FAILOVER_REQUESTED: ['warning'],
  RESOURCE_ONLINE: ['info'], RESOURCE_OFFLINE: ['info', 'warning'], RESOURCE_FAILED: ['error'], RESOURCE_LEFT_FAILED: ['error'],
  RESOURCE_RESTARTING: ['warning'], RESOURCE_RETRY: ['info'], RESOURCE_CLEANUP: ['info'], RESOURCE_STOP_FAILED: ['error'], RESOURCE_WARNING: ['warning'], RESOURCE_KILLED: ['warning'], RESOURCE_CONFIG_ERROR: ['error'],
  MONITOR_RESTARTED: ['error'], MONITOR_LOG: ['info', 'warning', 'error'], AGENT_CHECK_SKIPPED: ['warning'],
  DISK_LOST: ['error'], DISK_SECTOR_CLAIMED: ['info'], DISK_SECTOR_EPOCH_AHEAD: ['error'], DISK_SECTOR_IN_USE: ['error'],
  MAINTENANCE_SET: ['warning'], MAINTENANCE_CLEARED: ['info'], MAINTENANCE_FAILED: ['error'], MAINTENANCE_PENDING: ['info'],
  EXT_MAINTENANCE_SETTING: ['info', 'warning'], EXT_MAINTENANCE_CLEARING: ['info', 'warning'], EXT_MAINTENANCE_SET: ['info', 'warning'], EXT_MAINTENANCE_CLEARED: ['info', 'warning'],
  // backups
  BACKUP_FREEZING: ['info'], BACKUP_FROZEN: ['info'], BACKUP_THAWING: ['info'], BACKUP_THAWED: ['info'], BACKUP_FAILED: ['error'],
  BACKUP_FREEZE_TIMEOUT: ['error'], BACKUP_THAW_FAILED: ['error'], BACKUP_THAW_RETRY: ['warning'], BACKUP_SNAPSHOT_FAILED: ['error'],
  BACKUP_LEFTOVER_THAWED: ['warning'], BACKUP_STRAY_FREEZE_THAWED: ['warning'], BACKUP_WRITER_THAWED: ['info', 'warning'],
  // the cluster database
  CHECKPOINT_TAKEN: ['info'], QUORUM_DB_REBUILT: ['warning'], QUORUM_LOGGING_DISABLED: ['warning'], QUORUM_LOGGING_OFF_CHANGE: ['warning'],
  QUORUM_LOG_DAMAGE_FOUND: ['error'], QUORUM_LOG_REPAIRED: ['warning'], QUORUM_LOG_RESET: ['warning'], QUORUM_LOG_UNREADABLE: ['error'],
  LOCAL_COPY_BEHIND: ['info'], LOCAL_COPY_DAMAGED: ['warning'], LOCAL_LOG_TORN_TAIL: ['warning'], CONFIG_RECORD_SKIPPED: ['error', 'warning'],
} as const satisfies Record<string, readonly EventLevelName[]>);

/** Conditions (core/conditions.ts): repeated failures, emitted at their start and while they last, and as KEY_RECOVERED when they end. */
export const conditionKeys = Object.freeze([
  'CHECKPOINT_FAILED', 'COORDINATOR_ELECTION_FAILED', 'CYCLE_ERROR', 'NODE_ADD_FAILED', 'OWNERSHIP_WRITE_FAILED',
  'QUORUM_DISK_FULL', 'LOCAL_DISK_FULL',
] as const);

export type ConditionKey = (typeof conditionKeys)[number];
export type EventName = keyof typeof eventRegistry | ConditionKey | `${ConditionKey}_RECOVERED`;

/** Whether `name` is a registered event name (for names that arrive as data, from the monitor for example). */
export function isEventName(name: string): name is EventName {
  if (Object.hasOwn(eventRegistry, name)) return true;
  const key = name.endsWith('_RECOVERED') ? name.slice(0, -'_RECOVERED'.length) : name;
  return (conditionKeys as readonly string[]).includes(key);
}
