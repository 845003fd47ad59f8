// What the demo tells its user to type, redrawn every second from the current status: commands
// name a node that is alive now (the coordinator when it is), never one that was killed.

export interface DemoNode {
  name: string;
  /** Its API, http://127.0.0.1:PORT. */
  endpoint: string;
  /** The clusterd process, while the demo's child runs. */
  pid: number | undefined;
}

export interface DemoStatus {
  coordinator: string | null;
  nodes: { name: string; state: string }[];
  groups: { name: string; node: string | null; state: string }[];
}

/** A node whose process runs and that the cluster does not count Down. */
function alive(n: DemoNode, status: DemoStatus | null): boolean {
  return n.pid !== undefined && status?.nodes.find((v) => v.name === n.name)?.state !== 'Down';
}

/** The node to send commands to: the coordinator if it is alive, else the first live node; null if none. */
export function liveNode(status: DemoStatus | null, nodes: readonly DemoNode[]): DemoNode | null {
  const live = nodes.filter((n) => alive(n, status));
  return live.find((n) => n.name === status?.coordinator) ?? live[0] ?? null;
}

/** The "try a failover" lines for `group`, naming live nodes only. */
export function tryLines(status: DemoStatus | null, nodes: readonly DemoNode[], clusterJs: string, group: string): string[] {
  const pids = nodes.filter((n) => n.pid !== undefined).map((n) => `${n.name}=${n.pid}`).join(' ');
  const ownerName = status?.groups.find((g) => g.name === group)?.node ?? null;
  const owner = nodes.find((n) => n.name === ownerName && n.pid !== undefined);
  const via = liveNode(status, nodes);
  if (via === null) return ['No clusterd node runs any more: Ctrl-C, then start the demo again.'];
  const target = nodes.find((n) => n.name !== ownerName && alive(n, status));
  const cli = `CLUSTERD_ENDPOINT=${via.endpoint} node ${clusterJs}`;
  return [
    'Try a failover from another terminal:',
    owner ? `  kill -9 ${owner.pid}      (the clusterd of ${owner.name}, which runs ${group}; clusterd pids: ${pids})`
      : `  kill -9 <pid of the owner's clusterd>      (clusterd pids: ${pids})`,
    ...(target ? [`  ${cli} group ${group} /move:${target.name}`] : []),
    `  ${cli} log`,
  ];
}
