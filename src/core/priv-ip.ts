// The `ip` resource type's private properties (a virtual IP address), checked when the
// configuration changes and parsed again by the ip agent (monitor/ip-agent.ts):
//
//   address    A.B.C.D/NN or an IPv6 address /NN: the address and its prefix length on the link
//   interface  the network interface it is added to (the same name on every possible owner)
//
// Pure: the parsing is done here by hand (no node:net), so that a bad value is refused with the
// configuration change, not at online on some node.

import { clusterError, fail, ok, type Result } from './errors.js';
import type { PrivProps } from './types.js';

export interface IpPriv {
  family: 4 | 6;
  /** The address as written in canonical form (IPv6 lower case, zeros compressed as `ip` prints it). */
  address: string;
  prefix: number;
  /** address/prefix, what `ip addr add` and `ip addr del` take. */
  cidr: string;
  interface: string;
}

export const ipPrivKeys = ['address', 'interface'] as const;

/** Linux interface names: at most 15 bytes (IFNAMSIZ - 1), no '/', ':' or blanks, not '.' or '..'. */
const ifaceRe = /^[A-Za-z0-9_.@-]{1,15}$/;

function parseIpv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/** Eight 16-bit groups, or null. Accepts `::` compression and a trailing dotted IPv4 part. */
function parseIpv6(text: string): number[] | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const items = s.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (v4 === null) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9A-Fa-f]{1,4}$/.test(item)) return null;
      out.push(parseInt(item, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const zeros = 8 - head.length - tail.length;
  if (zeros < 1) return null;
  return [...head, ...new Array<number>(zeros).fill(0), ...tail];
}

/** RFC 5952 text: lower case, leading zeros dropped, the longest run (2+) of zero groups as `::`. */
function ipv6Text(g: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Why this address cannot be a virtual IP, or null. */
function ipv4Refusal(a: number[], prefix: number): string | null {
  if (a[0] === 0) return 'is in 0.0.0.0/8 (this network), not an address a client can reach';
  if (a[0] === 127) return 'is a loopback address';
  if (a[0]! >= 224 && a[0]! <= 239) return 'is a multicast address';
  if (a[0]! >= 240) return 'is a reserved or broadcast address';
  if (a[0] === 169 && a[1] === 254) return 'is a link-local address (169.254.0.0/16), which hosts assign themselves';
  if (prefix <= 30) {
    const n = ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
    const host = prefix === 0 ? n : n & (0xffffffff >>> prefix);
    if (host === 0) return `is the network address of its /${prefix}`;
    if (host === (0xffffffff >>> prefix)) return `is the broadcast address of its /${prefix}`;
  }
  return null;
}

function ipv6Refusal(g: number[]): string | null {
  if (g.every((x) => x === 0)) return 'is the unspecified address ::';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'is the loopback address ::1';
  if ((g[0]! & 0xff00) === 0xff00) return 'is a multicast address';
  if ((g[0]! & 0xffc0) === 0xfe80) return 'is a link-local address (fe80::/10), which every interface has its own of';
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return 'is an IPv4-mapped address: write the IPv4 address itself';
  return null;
}

/**
 * The checked private properties of an `ip` resource, or BAD_PROPERTY naming the key, the rule
 * and the value (with its path in an apply document's terms: resources.R.priv.KEY).
 */
export function parseIpPriv(resource: string, priv: PrivProps): Result<IpPriv> {
  const bad = (key: string, rule: string, hint?: string) =>
    fail(clusterError('BAD_PROPERTY', `ip resource '${resource}': private property ${key} ${rule}`, hint, `resources.${resource}.priv.${key}`));
  for (const key of Object.keys(priv)) {
    if (!(ipPrivKeys as readonly string[]).includes(key)) {
      return bad(key, 'is not a setting of the ip type', `ip resources take: ${ipPrivKeys.join(', ')} (for example address=10.0.0.5/24 interface=eth0)`);
    }
  }
  const text = priv.address;
  if (typeof text !== 'string' || text === '') return bad('address', 'is required: the virtual address with its prefix length, A.B.C.D/NN or IPv6/NN', 'for example address=10.0.0.5/24');
  const slash = text.indexOf('/');
  if (slash < 0) return bad('address', `needs its prefix length (the subnet of the link), not '${text}'`, `for example ${text}/24 (IPv4) or ${text}/64 (IPv6)`);
  const addrText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const v4 = parseIpv4(addrText);
  const v6 = v4 === null ? parseIpv6(addrText) : null;
  if (v4 === null && v6 === null) return bad('address', `'${addrText}' is not an IPv4 or IPv6 address`, 'A.B.C.D/NN, or an IPv6 address like fd00::5/64');
  const max = v4 !== null ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) < 1 || Number(prefixText) > max) {
    return bad('address', `has prefix length '${prefixText}': it must be a whole number in 1..${max}`);
  }
  const prefix = Number(prefixText);
  const refusal = v4 !== null ? ipv4Refusal(v4, prefix) : ipv6Refusal(v6!);
  if (refusal !== null) return bad('address', `${addrText} ${refusal}: it cannot be a virtual address`);
  const iface = priv.interface;
  if (typeof iface !== 'string' || iface === '') return bad('interface', 'is required: the network interface the address is added to', 'for example interface=eth0 (the same name on every possible owner)');
  if (!ifaceRe.test(iface) || iface === '.' || iface === '..') {
    return bad('interface', `'${iface}' is not a Linux interface name (1-15 letters, digits or _.@-)`);
  }
  if (iface === 'lo') return bad('interface', "is 'lo': an address on the loopback interface is not reachable from other hosts");
  const address = v4 !== null ? v4.join('.') : ipv6Text(v6!);
  return ok({ family: v4 !== null ? 4 : 6, address, prefix, cidr: `${address}/${prefix}`, interface: iface });
}

/** The save-time check of an `ip` resource's private properties (the per-type checker). */
export function checkIpPriv(resource: string, priv: PrivProps): Result<void> {
  const r = parseIpPriv(resource, priv);
  return r.ok ? ok(undefined) : r;
}
