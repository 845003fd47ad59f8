// What the resource monitor is told about a resource beyond its configuration.

import { own } from '../core/table.js';
import type { ClusterConfig } from '../core/types.js';
import { diskSectorPath } from '../monitor/protocol.js';

/** CLUSTERD_DISK_SECTOR for a resource above disks: the private sectors of the disks it depends on, transitively. */
export function diskSectorsOf(config: ClusterConfig, resource: string): { diskSectors?: string[] } {
  const sectors: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    for (const d of own(config.resources, name)?.dependsOn ?? []) {
      if (seen.has(d)) continue;
      seen.add(d);
      const dep = own(config.resources, d);
      const sector = dep?.type === 'disk' ? diskSectorPath(dep.priv) : null;
      if (sector !== null) sectors.push(sector);
      visit(d);
    }
  };
  visit(resource);
  return sectors.length > 0 ? { diskSectors: sectors } : {};
}
