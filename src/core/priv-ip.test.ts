import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkIpPriv, parseIpPriv } from './priv-ip.js';
import { applyUpdate, checkTypePriv, emptyConfig } from './config.js';
import type { ClusterConfig } from './types.js';

test('IPv4 and IPv6 addresses with their prefix, on a named interface', () => {
  const v4 = parseIpPriv('vip', { address: '10.0.0.5/24', interface: 'eth0' });
  assert.ok(v4.ok);
  assert.deepEqual(v4.value, { family: 4, address: '10.0.0.5', prefix: 24, cidr: '10.0.0.5/24', interface: 'eth0' });
  const v6 = parseIpPriv('vip', { address: 'FD00:0:0:0:0:0:0:05/64', interface: 'eth0.100' });
  assert.ok(v6.ok);
  assert.equal(v6.value.cidr, 'fd00::5/64', 'canonical text, as ip prints it');
  assert.equal(v6.value.family, 6);
  const mixed = parseIpPriv('vip', { address: '2001:db8:0:1::10.1.2.3/96', interface: 'br0' });
  assert.ok(mixed.ok);
  assert.equal(mixed.value.address, '2001:db8:0:1::a01:203');
  assert.ok(parseIpPriv('vip', { address: '192.168.1.10/32', interface: 'eth0' }).ok, 'a host route /32 is fine');
});

test('refused with the key, the rule and the path: missing, malformed, special addresses, bad interface, unknown keys', () => {
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ interface: 'eth0' }, 'address', /required/],
    [{ address: '10.0.0.5', interface: 'eth0' }, 'address', /prefix length/],
    [{ address: '10.0.0.256/24', interface: 'eth0' }, 'address', /not an IPv4 or IPv6/],
    [{ address: '10.0.0.5/33', interface: 'eth0' }, 'address', /1\.\.32/],
    [{ address: '10.0.0.5/0', interface: 'eth0' }, 'address', /1\.\.32/],
    [{ address: 'fd00::5/129', interface: 'eth0' }, 'address', /1\.\.128/],
    [{ address: 'fd00:::5/64', interface: 'eth0' }, 'address', /not an IPv4 or IPv6/],
    [{ address: '1:2:3:4:5:6:7:8:9/64', interface: 'eth0' }, 'address', /not an IPv4 or IPv6/],
    [{ address: '127.0.0.2/8', interface: 'eth0' }, 'address', /loopback/],
    [{ address: '224.0.0.5/24', interface: 'eth0' }, 'address', /multicast/],
    [{ address: '10.0.0.0/24', interface: 'eth0' }, 'address', /network address/],
    [{ address: '10.0.0.255/24', interface: 'eth0' }, 'address', /broadcast address/],
    [{ address: '169.254.3.4/16', interface: 'eth0' }, 'address', /link-local/],
    [{ address: 'fe80::5/64', interface: 'eth0' }, 'address', /link-local/],
    [{ address: '::1/128', interface: 'eth0' }, 'address', /loopback/],
    [{ address: 'ff02::1/64', interface: 'eth0' }, 'address', /multicast/],
    [{ address: '10.0.0.5/24' }, 'interface', /required/],
    [{ address: '10.0.0.5/24', interface: 'a-very-long-interface-name' }, 'interface', /not a Linux interface name/],
    [{ address: '10.0.0.5/24', interface: 'eth 0' }, 'interface', /not a Linux interface name/],
    [{ address: '10.0.0.5/24', interface: 'lo' }, 'interface', /loopback/],
    [{ address: '10.0.0.5/24', interface: 'eth0', netmask: '24' }, 'netmask', /not a setting of the ip type/],
  ];
  for (const [priv, key, rule] of cases) {
    const r = checkIpPriv('vip', priv);
    assert.ok(!r.ok, `${JSON.stringify(priv)} accepted`);
    assert.equal(r.error.code, 'BAD_PROPERTY');
    assert.equal(r.error.path, `resources.vip.priv.${key}`, JSON.stringify(priv));
    assert.match(r.error.message, rule, JSON.stringify(priv));
  }
});

test('checked at save time (checkTypePriv: API create and patch, apply), not by the fold, which replays what older builds accepted', () => {
  const bad = checkTypePriv('vip', 'ip', { address: '10.0.0.5', interface: 'eth0' });
  assert.ok(!bad.ok && bad.error.code === 'BAD_PROPERTY' && bad.error.path === 'resources.vip.priv.address');
  assert.ok(checkTypePriv('vip', 'ip', { address: '10.0.0.5/24', interface: 'eth0' }).ok);
  assert.ok(!checkTypePriv('p', 'process', { address: 'whatever' }).ok, 'each type by its own checker: a process has no address');
  let c: ClusterConfig = emptyConfig('t');
  const g = applyUpdate(c, { op: 'group-create', group: 'g' });
  assert.ok(g.ok);
  c = g.value;
  assert.ok(applyUpdate(c, { op: 'resource-create', resource: 'vip', group: 'g', type: 'ip' }).ok);
});
