// The `ip` resource type: a virtual IP address on a network interface (WSFC's "IP Address",
// keepalived's VIP). Online: refuse when another host answers for the address on the link
// (IP_ADDRESS_IN_USE), add it, announce it. Offline: remove it. Health: the address is on the
// interface and the link is up. Fence (killAll): every address this agent added is removed at
// once, synchronously, before the monitor tells anyone that the node's resources are stopped.
//
//   IPv4  detection: `arping -0` (ARP probes from 0.0.0.0, RFC 5227), 3 probes 200 ms apart;
//         a reply means another host holds the address. Announcement: unsolicited ARP
//         (`arping -U`), 3 of them 300 ms apart, in the background.
//         arping is Debian's `arping` package (Thomas Habets' arping, /usr/sbin/arping).
//   IPv6  detection: the kernel's duplicate address detection on add (the address stays
//         tentative, then valid or `dadfailed`). Announcement: the kernel's unsolicited neighbour
//         advertisement after DAD, which needs net.ipv6.conf.IFACE.ndisc_notify=1: the agent sets
//         it on the interface before adding the address.

import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseIpPriv, type IpPriv } from '../core/priv-ip.js';
import type { ResourceSpec } from './protocol.js';
import type { AgentContext, AgentEvents, ResourceAgent } from './agent.js';

/** ARP probes before adding an IPv4 address: count, gap (s) and the whole probe's deadline (s). */
const probeCount = 3;
const probeGapS = '0.2';
const probeDeadlineS = '0.8';
/** Unsolicited ARPs after adding: count and gap (s). Several, as a switch may drop the first. */
const announceCount = 3;
const announceGapS = '0.3';
/** Bound on one `ip` command run while coming online, going offline or checking. */
const ipTimeoutMs = 5_000;
/**
 * Bound on the fence's one `ip -batch` that removes every address: the fence waits for it. It
 * takes about 5 ms on an idle host, 100 ms on a loaded 2-core one (test/vip.test.ts prints it).
 */
const killAllTimeoutMs = 1_000;
/** IPv6: how often to look whether DAD has finished; the kernel's DAD takes about 1 s (one probe, RetransTimer 1 s). */
const dadPollMs = 100;

/**
 * The addresses this node's monitor holds, in its data directory: when the monitor is lost
 * (crashed, deadlocked, killed), clusterd removes them (dropAddressesSync) as it kills the
 * monitor's process groups, before its resources count as stopped; a new monitor removes what an
 * earlier one of this node left.
 */
export const addressesFileName = 'ip-addresses.json';

interface AddressEntry { resource: string; cidr: string; interface: string }

/** Removes every address listed in `dataDir` and empties the list; returns the resources. Synchronous, bounded by killAllTimeoutMs. */
export function dropAddressesSync(dataDir: string): string[] {
  const file = path.join(dataDir, addressesFileName);
  let listed: AddressEntry[];
  try {
    listed = JSON.parse(readFileSync(file, 'utf8')) as AddressEntry[];
    if (!Array.isArray(listed)) return [];
  } catch {
    return [];
  }
  if (listed.length > 0) removeSync(listed);
  writeListSync(dataDir, []);
  return listed.map((e) => e.resource);
}

/** One `ip` for every address; -force goes on past an address already gone. */
function removeSync(entries: readonly AddressEntry[]): void {
  const script = entries.map((e) => `addr del ${e.cidr} dev ${e.interface}\n`).join('');
  spawnSync('ip', ['-force', '-batch', '-'], { input: script, stdio: ['pipe', 'ignore', 'ignore'], timeout: killAllTimeoutMs, killSignal: 'SIGKILL' });
}

function writeListSync(dataDir: string, entries: readonly AddressEntry[]): void {
  const file = path.join(dataDir, addressesFileName);
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify(entries), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch {
    // A data directory that cannot be written: the in-memory list still serves the fence.
  }
}

interface Held {
  ip: IpPriv;
  /** The announcer running now, if any: killed with the address. */
  announcer: ChildProcess | undefined;
}

/** One address of `ip -j addr show` (the fields used here). */
interface AddrInfo { family: string; local: string; prefixlen: number; tentative?: boolean; dadfailed?: boolean }
interface LinkInfo { ifname: string; flags: string[]; operstate: string; addr_info: AddrInfo[] }

export class IpAgent implements ResourceAgent {
  /** Resources whose address this agent added (or found and adopted), by resource name. */
  private readonly held = new Map<string, Held>();
  /** Counts killAll calls: an online that straddles one must not add its address. */
  private fences = 0;

  private readonly dataDir = process.env.CLUSTERD_DATA_DIR ?? os.tmpdir();

  constructor(private readonly events: AgentEvents) {
    // This node's resources are all stopped when a monitor starts: an address an earlier one left goes.
    const left = dropAddressesSync(this.dataDir);
    if (left.length > 0) events.log('warning', `ip resources ${left.join(', ')}: removed the addresses an earlier resource monitor of this node left`);
  }

  async online(spec: ResourceSpec, ctx: AgentContext): Promise<{ pid?: number }> {
    const ip = parse(spec);
    const fences = this.fences;
    const link = await showLink(ip.interface, ctx.signal);
    if (link === null) throw new Error(`ip resource '${spec.name}': interface ${ip.interface} does not exist on node ${spec.node}; every possible owner needs it (ip link shows the interfaces)`);
    if (!linkUp(link)) throw new Error(`ip resource '${spec.name}': interface ${ip.interface} on node ${spec.node} is down (${link.operstate}): the address would not be reachable`);
    const present = findAddr(link, ip);
    if (present !== undefined && !present.dadfailed) {
      // Ours already (an online repeated, or a monitor restarted after the address was added): keep it.
      this.hold(spec.name, ip);
      this.announce(spec, ip);
      return {};
    }
    if (present?.dadfailed) await ipCommand(['addr', 'del', ip.cidr, 'dev', ip.interface], ctx.signal).catch(() => undefined);
    if (ip.family === 4) {
      const holder = await arpProbe(ip, ctx.signal);
      if (holder !== null) throw inUse(spec, ip, `host ${holder} answers ARP for it on ${ip.interface}`);
    } else {
      // The kernel announces the address (unsolicited NA) after DAD only with ndisc_notify on.
      await writeFile(`/proc/sys/net/ipv6/conf/${ip.interface}/ndisc_notify`, '1').catch((err: Error) =>
        this.events.log('warning', `ip resource '${spec.name}': cannot turn on ndisc_notify for ${ip.interface} (${err.message}): neighbours learn the address when they next ask`));
    }
    if (fences !== this.fences) throw new Error(`ip resource '${spec.name}': every resource was stopped (fenced) while it was coming online`);
    // Held before it is added: a fence from here on removes it.
    this.hold(spec.name, ip);
    try {
      await ipCommand(['addr', 'add', ip.cidr, 'dev', ip.interface], ctx.signal);
    } catch (err) {
      this.release(spec.name);
      throw new Error(`ip resource '${spec.name}': ip addr add ${ip.cidr} dev ${ip.interface} failed: ${(err as Error).message}`);
    }
    if (ip.family === 6) await this.waitDad(spec, ip, ctx.signal);
    else this.announce(spec, ip);
    this.events.log('info', `ip resource '${spec.name}': ${ip.cidr} added on ${ip.interface}, epoch ${spec.epoch}`);
    return {};
  }

  async offline(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    const ip = this.held.get(spec.name)?.ip ?? parse(spec);
    this.stopAnnouncer(spec.name);
    const link = await showLink(ip.interface, ctx.signal);
    if (link !== null && findAddr(link, ip) !== undefined) {
      await ipCommand(['addr', 'del', ip.cidr, 'dev', ip.interface], ctx.signal).catch(async (err: Error) => {
        // Gone meanwhile is what was asked for.
        const again = await showLink(ip.interface, ctx.signal);
        if (again !== null && findAddr(again, ip) !== undefined) throw new Error(`ip resource '${spec.name}': ip addr del ${ip.cidr} dev ${ip.interface} failed: ${err.message}`);
      });
    }
    this.release(spec.name);
  }

  terminate(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    return this.offline(spec, ctx);
  }

  /** Cheap: getifaddrs lists only interfaces that are up and running (carrier), with their addresses. */
  async looksAlive(spec: ResourceSpec): Promise<boolean> {
    const ip = parse(spec);
    const addrs = os.networkInterfaces()[ip.interface] ?? [];
    return addrs.some((a) => sameAddress(a.address, ip) && (a.family === 'IPv4' ? 4 : 6) === ip.family);
  }

  /** Thorough: the link is up with carrier, the address is on it and usable (not tentative, not failed DAD). */
  async isAlive(spec: ResourceSpec, ctx: AgentContext): Promise<boolean> {
    const ip = parse(spec);
    const link = await showLink(ip.interface, ctx.signal).catch(() => null);
    if (link === null || !linkUp(link)) return false;
    const a = findAddr(link, ip);
    return a !== undefined && !a.dadfailed && !a.tentative;
  }

  killAll(): string[] {
    this.fences += 1;
    const names = [...this.held.keys()];
    if (names.length === 0) return names;
    for (const name of names) this.stopAnnouncer(name);
    removeSync(this.entries());
    this.held.clear();
    writeListSync(this.dataDir, []);
    return names;
  }

  private hold(name: string, ip: IpPriv): void {
    const held = this.held.get(name);
    if (held === undefined) this.held.set(name, { ip, announcer: undefined });
    else held.ip = ip;
    writeListSync(this.dataDir, this.entries());
  }

  private release(name: string): void {
    if (this.held.delete(name)) writeListSync(this.dataDir, this.entries());
  }

  private entries(): AddressEntry[] {
    return [...this.held].map(([resource, h]) => ({ resource, cidr: h.ip.cidr, interface: h.ip.interface }));
  }

  /** Unsolicited ARPs in the background: online does not wait for them, offline and fence kill them. */
  private announce(spec: ResourceSpec, ip: IpPriv): void {
    if (ip.family !== 4) return;
    this.stopAnnouncer(spec.name);
    let child: ChildProcess;
    try {
      child = spawn('arping', ['-q', '-U', '-i', ip.interface, '-S', ip.address, '-c', String(announceCount), '-W', announceGapS, ip.address], { stdio: 'ignore' });
    } catch (err) {
      this.events.log('warning', `ip resource '${spec.name}': cannot run arping to announce ${ip.address}: ${(err as Error).message}`);
      return;
    }
    const held = this.held.get(spec.name);
    if (held !== undefined) held.announcer = child;
    child.once('error', (err) => this.events.log('warning', `ip resource '${spec.name}': cannot run arping to announce ${ip.address} (${err.message}): install Debian's arping package`));
    child.once('exit', () => { if (held?.announcer === child) held.announcer = undefined; });
  }

  private stopAnnouncer(name: string): void {
    const held = this.held.get(name);
    if (held?.announcer !== undefined) {
      held.announcer.kill('SIGKILL');
      held.announcer = undefined;
    }
  }

  /** IPv6: wait for the kernel's DAD; a duplicate found removes the address and refuses. */
  private async waitDad(spec: ResourceSpec, ip: IpPriv, signal: AbortSignal): Promise<void> {
    while (true) {
      const link = await showLink(ip.interface, signal);
      const a = link === null ? undefined : findAddr(link, ip);
      if (a === undefined) throw new Error(`ip resource '${spec.name}': ${ip.cidr} disappeared from ${ip.interface} while the kernel checked it for duplicates`);
      if (a.dadfailed) {
        await ipCommand(['addr', 'del', ip.cidr, 'dev', ip.interface], signal).catch(() => undefined);
        this.release(spec.name);
        throw inUse(spec, ip, `the kernel's duplicate address detection on ${ip.interface} found another host with it`);
      }
      if (!a.tentative) return;
      if (signal.aborted) throw new Error(`ip resource '${spec.name}': duplicate address detection of ${ip.cidr} did not finish before the online timeout`);
      await sleep(dadPollMs, undefined, { signal }).catch(() => undefined);
    }
  }
}

function parse(spec: ResourceSpec): IpPriv {
  const r = parseIpPriv(spec.name, spec.priv);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

function inUse(spec: ResourceSpec, ip: IpPriv, why: string): Error {
  return new Error(`error[IP_ADDRESS_IN_USE]: ip resource '${spec.name}': ${ip.address} is in use on the link: ${why}; it was not added on node ${spec.node}. ` +
    `hint: find the host that holds it (arping -i ${ip.interface} ${ip.address} shows its MAC address), remove it there or give the resource another address, then cluster res "${spec.name}" /online`);
}

function linkUp(link: LinkInfo): boolean {
  return link.flags.includes('UP') && link.flags.includes('LOWER_UP');
}

function sameAddress(text: string, ip: IpPriv): boolean {
  return ip.family === 4 ? text === ip.address : text.toLowerCase() === ip.address;
}

function findAddr(link: LinkInfo, ip: IpPriv): AddrInfo | undefined {
  const family = ip.family === 4 ? 'inet' : 'inet6';
  return link.addr_info.find((a) => a.family === family && sameAddress(a.local, ip) && a.prefixlen === ip.prefix);
}

/** The interface and its addresses, or null when there is no such interface. */
async function showLink(iface: string, signal: AbortSignal): Promise<LinkInfo | null> {
  let out: string;
  try {
    out = await ipCommand(['-j', 'addr', 'show', 'dev', iface], signal);
  } catch (err) {
    if (/does not exist|Cannot find device/i.test((err as Error).message)) return null;
    throw err;
  }
  const links = JSON.parse(out) as LinkInfo[];
  return links.find((l) => l.ifname === iface) ?? null;
}

function ipCommand(args: string[], signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: ipTimeoutMs, signal, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new Error((stderr || err.message).trim()));
    });
  });
}

/** ARP probes from 0.0.0.0 (RFC 5227): the MAC address of a host that answers for the address, or null. */
function arpProbe(ip: IpPriv, signal: AbortSignal): Promise<string | null> {
  return new Promise((resolve, reject) => {
    execFile('arping', ['-0', '-i', ip.interface, '-c', String(probeCount), '-W', probeGapS, '-w', probeDeadlineS, ip.address],
      { timeout: ipTimeoutMs, signal, encoding: 'utf8' }, (err, stdout, stderr) => {
        const reply = /bytes from ([0-9a-f:]{17})/i.exec(stdout);
        if (reply !== null) return resolve(reply[1]!);
        // arping exits 1 when nothing answered; anything else is arping failing.
        if (err === null || (err as { code?: unknown }).code === 1) return resolve(null);
        const why = (err as { code?: unknown }).code === 'ENOENT' ? 'arping is not installed (Debian package arping)' : (stderr || err.message).trim();
        reject(new Error(`cannot check whether ${ip.address} is in use on ${ip.interface}: ${why}`));
      });
  });
}
