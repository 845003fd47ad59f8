// OCF meta-data as resource-agents write it: parameters (required, default, English shortdesc),
// action timeouts and the plain monitor's interval (a promotable agent's per-role monitors are
// not the one clusterd runs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMetaData } from './ocf-meta.js';

const xml = `<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="demo" version="1.0">
<version>1.0</version>
<longdesc lang="en">Long</longdesc>
<shortdesc lang="de">Beispiel</shortdesc>
<shortdesc lang="en">Example
  agent</shortdesc>
<parameters>
<parameter name="ip" unique="1" required="1">
<longdesc lang="en">The address</longdesc>
<shortdesc lang="en">IPv4 or IPv6 address</shortdesc>
<content type="string" default="" />
</parameter>
<parameter name="cidr_netmask">
<shortdesc lang="en">Netmask</shortdesc>
<content type="string" default="32"/>
</parameter>
<parameter name="__proto__"><content type="string"/></parameter>
</parameters>
<actions>
<action name="start" timeout="20s" />
<action name="stop" timeout="1m" />
<action name="monitor" timeout="30" interval="10s" role="Promoted" />
<action name="monitor" timeout="20s" interval="15s" depth="0" />
<action name="meta-data" timeout="5s" />
</actions>
</resource-agent>`;

test('parameters, their required flag, default and English shortdesc; timeouts; the plain monitor interval', () => {
  const info = parseMetaData('test:demo', xml);
  assert.equal(info.name, 'test:demo');
  assert.equal(info.shortdesc, 'Example agent');
  assert.deepEqual(info.params.slice(0, 2), [
    { name: 'ip', required: true, default: '', shortdesc: 'IPv4 or IPv6 address' },
    { name: 'cidr_netmask', required: false, default: '32', shortdesc: 'Netmask' },
  ]);
  assert.deepEqual(info.timeoutsMs, { start: 20_000, stop: 60_000, monitor: 20_000 });
  assert.equal(info.monitorIntervalMs, 15_000);
});

test('a document that is not an OCF resource-agent is refused with a message', () => {
  assert.throws(() => parseMetaData('x:y', '<html/>'), /not an OCF <resource-agent> document/);
});
