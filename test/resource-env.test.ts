// What a resource sees of its node, with the real resource monitor and real processes: its
// environment holds its own configuration and the documented CLUSTERD_* names and nothing of
// clusterd's (no quorum store credentials), its secrets come from a private file on the node,
// and its log is never opened through a symlink.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { commonPropDefaults, type PrivProps } from '../src/core/types.js';
import { MonitorClient } from '../src/monitor/client.js';
import type { ResourceSpec } from '../src/monitor/protocol.js';

const fixture = fileURLToPath(new URL('../../test/fixtures/monitor-resource.mjs', import.meta.url));
const callMs = 15_000;
const asRoot = process.getuid?.() === 0;

/** What clusterd's own environment holds that no resource may see. */
const clusterdSecrets = {
  CLUSTERD_ETCD_PASSWORD: 'etcd-password-7f3a91',
  CLUSTERD_CREDENTIALS: '/root/.config/clusterd/credentials-7f3a91',
  CLUSTERD_FENCE_ETCD: 'etcd:http://127.0.0.1:1',
  SOME_CLUSTERD_SETTING: 'setting-7f3a91',
};

const clients: MonitorClient[] = [];
const dirs: string[] = [];

function tempDir(mode?: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterd-env-test-'));
  dirs.push(dir);
  if (mode !== undefined) chmodSync(dir, mode);
  return dir;
}

/** A monitor started from a clusterd whose environment holds secrets (the monitor inherits clusterd's environment). */
async function newClient(dataDir = tempDir()): Promise<MonitorClient> {
  const saved = { ...process.env };
  Object.assign(process.env, clusterdSecrets);
  const client = new MonitorClient();
  clients.push(client);
  try {
    await client.start({ selfFenceMs: 60_000, node: 'n1', dataDir });
  } finally {
    for (const key of Object.keys(clusterdSecrets)) if (saved[key] === undefined) delete process.env[key];
  }
  return client;
}

function spec(name: string, priv: PrivProps): ResourceSpec {
  return { name, group: 'g1', type: 'process', node: 'n1', epoch: 7, props: { ...commonPropDefaults }, priv };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A copy of the fixture that `nobody` can read wherever the checkout lives, in a directory it can write. */
function nobodyDir(): { dir: string; script: string } {
  const dir = tempDir(0o777);
  const script = path.join(dir, 'monitor-resource.mjs');
  copyFileSync(fixture, script);
  chmodSync(script, 0o644);
  return { dir, script };
}

function readEnv(file: string): Record<string, string> {
  return (JSON.parse(readFileSync(file, 'utf8')) as { env: Record<string, string> }).env;
}

describe('resource environment, secrets and log', () => {
  after(async () => {
    await Promise.all(clients.map((client) => client.shutdown()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('a resource running as nobody, and its probe command, see the documented names and nothing of clusterd\'s environment', { skip: !asRoot && 'needs root' }, async () => {
    const dataDir = tempDir();
    const client = await newClient(dataDir);
    const { dir, script } = nobodyDir();
    const envFile = path.join(dir, 'env.json');
    const probeEnvFile = path.join(dir, 'probe-env.json');
    const s = spec('as-nobody', {
      command: process.execPath, args: [script, '--write-env', envFile], user: 'nobody', env: ['GREETING=hello', 'CLUSTERD_ENDPOINT=http://127.0.0.1:7400'],
      probe: `cmd:${process.execPath} ${script} --write-env ${probeEnvFile} --exit-after 1`,
    });
    const result = await client.call('online', s, callMs);
    assert.ok(result.ok, JSON.stringify(result));
    await waitFor('the resource wrote its environment', () => existsSync(envFile) && existsSync(probeEnvFile));
    const nobodyHome = execFileSync('getent', ['passwd', 'nobody'], { encoding: 'utf8' }).split(':')[5];
    for (const [who, file] of [['resource', envFile], ['probe', probeEnvFile]] as const) {
      const env = readEnv(file);
      for (const [key, value] of Object.entries(clusterdSecrets)) {
        assert.equal(env[key], undefined, `${who}: ${key} of clusterd's environment is not passed on`);
        assert.ok(!Object.values(env).some((v) => v.includes(value)), `${who}: no value of clusterd's ${key}`);
      }
      assert.equal(env.GREETING, 'hello', `${who}: its own env`);
      assert.equal(env.CLUSTERD_ENDPOINT, 'http://127.0.0.1:7400', `${who}: a CLUSTERD_ name of its own configuration`);
      assert.equal(env.CLUSTERD_NODE, 'n1');
      assert.equal(env.CLUSTERD_GROUP, 'g1');
      assert.equal(env.CLUSTERD_RESOURCE, 'as-nobody');
      assert.equal(env.CLUSTERD_EPOCH, '7');
      assert.equal(env.CLUSTERD_DATA_DIR, dataDir);
      assert.equal(env.PATH, process.env.PATH);
      assert.equal(env.HOME, nobodyHome, `${who}: HOME is nobody's, not clusterd's`);
      const allowed = new Set(['PATH', 'HOME', 'LANG', 'GREETING', 'CLUSTERD_ENDPOINT', 'CLUSTERD_NODE', 'CLUSTERD_GROUP', 'CLUSTERD_RESOURCE', 'CLUSTERD_EPOCH', 'CLUSTERD_DATA_DIR']);
      // Node adds nothing of its own; what the fixture's process sees beyond this came from clusterd.
      const extra = Object.keys(env).filter((key) => !allowed.has(key));
      assert.deepEqual(extra, [], `${who}: only the documented names`);
    }
    assert.deepEqual(await client.call('offline', s, callMs), { ok: true });
  });

  test('secretEnvFile: its KEY=VALUE lines are added at each start; a file others can read, a symlink or a file of another user is refused', async () => {
    const client = await newClient();
    const dir = tempDir();
    const secretFile = path.join(dir, 'web.secrets');
    writeFileSync(secretFile, '# the database\nDB_PASSWORD=s3cr=t value 91c2\n\nAPI_TOKEN=tok-91c2\r\n', { mode: 0o600 });
    chmodSync(secretFile, 0o600);
    const envFile = path.join(dir, 'env.json');
    const s = spec('web', { command: process.execPath, args: [fixture, '--write-env', envFile], env: ['DB_PASSWORD=overridden'], secretEnvFile: secretFile });
    const first = await client.call('online', s, callMs);
    assert.ok(first.ok, JSON.stringify(first));
    await waitFor('the resource wrote its environment', () => existsSync(envFile));
    let env = readEnv(envFile);
    assert.equal(env.DB_PASSWORD, 's3cr=t value 91c2', 'the value is everything after the first =; the file wins over priv.env');
    assert.equal(env.API_TOKEN, 'tok-91c2');
    assert.deepEqual(await client.call('offline', s, callMs), { ok: true });
    // Read again at the next start.
    rmSync(envFile);
    writeFileSync(secretFile, 'DB_PASSWORD=rotated-91c2\n');
    assert.ok((await client.call('online', s, callMs)).ok);
    await waitFor('the resource wrote its environment again', () => existsSync(envFile));
    env = readEnv(envFile);
    assert.equal(env.DB_PASSWORD, 'rotated-91c2');
    assert.equal(env.API_TOKEN, undefined);
    assert.deepEqual(await client.call('offline', s, callMs), { ok: true });

    const refused = async (why: RegExp, priv: PrivProps): Promise<void> => {
      const r = await client.call('online', spec('web2', { command: process.execPath, args: [fixture], ...priv }), callMs);
      assert.ok(!r.ok, `refused: ${why}`);
      assert.match(r.error, why);
      assert.ok(!r.error.includes('91c2'), `the error shows no secret: ${r.error}`);
    };
    chmodSync(secretFile, 0o640);
    await refused(/secretEnvFile .*web\.secrets has mode 0640: group and others must have no access; chmod 600/, { secretEnvFile: secretFile });
    chmodSync(secretFile, 0o400);
    const link = path.join(dir, 'link.secrets');
    symlinkSync(secretFile, link);
    await refused(/secretEnvFile .*link\.secrets is a symlink/, { secretEnvFile: link });
    await refused(/secretEnvFile .*missing\.secrets does not exist on this node/, { secretEnvFile: path.join(dir, 'missing.secrets') });
    const badLine = path.join(dir, 'bad.secrets');
    writeFileSync(badLine, 'GOOD=1\nnot a pair 91c2\n', { mode: 0o600 });
    await refused(/bad\.secrets line 2 is not KEY=VALUE/, { secretEnvFile: badLine });
    writeFileSync(badLine, 'CLUSTERD_EPOCH=99\n', { mode: 0o600 });
    await refused(/CLUSTERD_EPOCH is set by clusterd/, { secretEnvFile: badLine });
    await refused(/secretEnvFile' must be an absolute path/, { secretEnvFile: 'relative.secrets' });
    if (asRoot) {
      chownSync(secretFile, Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })), 0);
      await refused(/web\.secrets is owned by uid \d+: it must belong to root or to clusterd's user/, { secretEnvFile: secretFile });
    }
  });

  test('a resource log that is a symlink is refused with an error naming it, and its target is left untouched', async () => {
    const dataDir = tempDir();
    const client = await newClient(dataDir);
    const target = path.join(tempDir(), 'root-only');
    writeFileSync(target, 'untouched\n', { mode: 0o600 });
    symlinkSync(target, path.join(dataDir, 'web.log'));
    const r = await client.call('online', spec('web', { command: process.execPath, args: [fixture] }), callMs);
    assert.ok(!r.ok);
    assert.match(r.error, /resource 'web': cannot open its log file .*web\.log: it is a symlink/);
    assert.equal(readFileSync(target, 'utf8'), 'untouched\n');
    // A log clusterd creates itself is 0600.
    const ok = await client.call('online', spec('db', { command: process.execPath, args: [fixture] }), callMs);
    assert.ok(ok.ok, JSON.stringify(ok));
    assert.equal(statSync(path.join(dataDir, 'db.log')).mode & 0o777, 0o600);
    assert.deepEqual(await client.call('offline', spec('db', { command: process.execPath, args: [fixture] }), callMs), { ok: true });
  });
});
