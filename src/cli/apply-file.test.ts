import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyProblemsMax, formatProblem, loadApplyFile, locatePath, type FileProblem } from './apply-file.js';
import { resourceTypes } from '../core/types.js';

function problems(text: string): FileProblem[] {
  const r = loadApplyFile(text);
  if (r.ok) assert.fail('expected problems, the file loaded');
  return r.problems;
}
const where = (ps: FileProblem[]) => ps.map((p) => [p.line, p.col, p.code]);

const good = `# a web service
groups:
  web:
    preferredOwners: [n1, n2]
    possibleOwners: []
    failoverThreshold: 2
    failoverPeriodMs: 21600000
    failback: 22-06
    state: online
    resources:
      web-ip:
        type: ip
        priv: { address: 10.0.0.5/24 }
      web-srv:
        type: process
        dependsOn: [web-ip]
        props: { looksAliveIntervalMs: 5000, restartAction: restart }
        priv:
          command: /usr/bin/python3
          args: ["-m", "http.server", "8080"]
          user: www
          cwd: /srv
  empty:
    failback: { mode: immediate }
`;

test('a good file loads into the API shape', () => {
  const r = loadApplyFile(good);
  assert.ok(r.ok);
  assert.deepEqual(r.spec.groups.web?.failback, { mode: 'window', startHour: 22, endHour: 6 });
  assert.deepEqual(r.spec.groups.empty, { failback: { mode: 'immediate' } });
  assert.deepEqual(r.spec.groups.web?.resources?.['web-srv'], {
    type: 'process', dependsOn: ['web-ip'], props: { looksAliveIntervalMs: 5000, restartAction: 'restart' },
    priv: { command: '/usr/bin/python3', args: ['-m', 'http.server', '8080'], user: 'www', cwd: '/srv' },
  });
});

test('malformed YAML: the syntax error with its line', () => {
  const ps = problems('groups:\n  web:\n    preferredOwners: [n1, n2\n    state: online\n');
  assert.ok(ps.length >= 1);
  assert.equal(ps[0]!.code, 'BAD_CONFIG');
  assert.match(ps[0]!.message, /^YAML: /);
  assert.ok(ps[0]!.line >= 3 && ps[0]!.line <= 5, `line ${ps[0]!.line}`);
  const dup = problems('groups:\n  web: {}\n  web: {}\n');
  assert.deepEqual(where(dup), [[3, 3, 'BAD_CONFIG']]);
  assert.match(dup[0]!.message, /unique/);
});

test('unknown key: points at the key, lists the valid ones', () => {
  const ps = problems('groups:\n  web:\n    prefferedOwners: [n1]\n');
  assert.deepEqual(where(ps), [[3, 5, 'BAD_CONFIG']]);
  assert.match(ps[0]!.message, /unknown key 'prefferedOwners'.*preferredOwners/);
  assert.equal(ps[0]!.path, 'groups.web.prefferedOwners');
});

test('wrong type: points at the value and says what was expected', () => {
  const ps = problems('groups:\n  web:\n    failoverThreshold: three\n');
  assert.deepEqual(where(ps), [[3, 24, 'BAD_CONFIG']]);
  assert.match(ps[0]!.message, /failoverThreshold: must be a whole number >= 0, not string "three"/);
});

test('unknown resource type: RESOURCE_TYPE_UNKNOWN at the value', () => {
  const ps = problems('groups:\n  web:\n    resources:\n      srv:\n        type: service\n');
  assert.deepEqual(where(ps), [[5, 15, 'RESOURCE_TYPE_UNKNOWN']]);
  assert.match(ps[0]!.message, /'service'.*process, disk, ip, ocf/);
});

test('a missing type points at the resource', () => {
  const ps = problems('groups:\n  web:\n    resources:\n      srv:\n        dependsOn: []\n');
  assert.deepEqual(where(ps), [[4, 7, 'BAD_CONFIG']]);
  assert.match(ps[0]!.message, /missing required key 'type'/);
});

test('several errors at once, in file order, each with its own line', () => {
  const text = [
    'groups:', //                                   1
    '  web:', //                                    2
    '    failoverThreshold: -1', //                 3  wrong value
    '    colour: blue', //                          4  unknown key
    '    failback: sometimes', //                   5  bad policy
    '    resources:', //                            6
    '      ip:', //                                 7
    '        type: ipaddr', //                      8  unknown type
    '      srv:', //                                9
    '        type: process', //                     10
    '        dependsOn: [ip, db]', //               11 db is elsewhere
    '        props: { restartAction: sometimes }', // 12 bad enum
    '        priv: { args: [1, 2] }', //            13 bad priv value
    '  data:', //                                   14
    '    resources:', //                            15
    '      db: { type: disk, dependsOn: [db] }', // 16 self dependency
    '',
  ].join('\n');
  const ps = problems(text);
  assert.deepEqual(where(ps), [
    [3, 24, 'BAD_CONFIG'],
    [4, 5, 'BAD_CONFIG'],
    [5, 15, 'BAD_CONFIG'],
    [8, 15, 'RESOURCE_TYPE_UNKNOWN'],
    [11, 25, 'DEPENDENCY_OTHER_GROUP'],
    [12, 33, 'BAD_CONFIG'],
    [13, 23, 'BAD_CONFIG'],
    [16, 7, 'BAD_PROPERTY'], //                     16 a disk without path or device
    [16, 37, 'DEPENDENCY_CYCLE'],
  ]);
  assert.equal(formatProblem('cluster.yaml', ps[3]!),
    `cluster.yaml:8:15: error[RESOURCE_TYPE_UNKNOWN]: groups.web.resources.ip.type: unknown resource type 'ipaddr' (valid: ${resourceTypes.join(', ')})\n`);
});

test('dependencies: cycles through several resources; a name not in the file is left to the server (it may exist in the cluster)', () => {
  const ps = problems('groups:\n  g:\n    resources:\n      a: { type: process, dependsOn: [b], priv: { command: x } }\n      b: { type: process, dependsOn: [a, zz], priv: { command: x } }\n');
  assert.deepEqual(where(ps), [[4, 38, 'DEPENDENCY_CYCLE']]);
  assert.match(ps[0]!.message, /a -> b -> a/);
});

test('misspelled keys anywhere are refused at their FILE:LINE:COL, all at once (group fields, resource fields, priv)', () => {
  const text = [
    'groups:', //                                         1
    '  web:', //                                          2
    '    preferedOwners: [n1]', //                        3
    '    failbak: never', //                              4
    '    resources:', //                                  5
    '      srv:', //                                      6
    '        type: process', //                           7
    '        prvi: { command: x }', //                    8
    '      app:', //                                      9
    '        type: process', //                           10
    '        priv: { command: /bin/app, cmmand: x, user: -1 }', // 11
    '',
  ].join('\n');
  const ps = problems(text);
  assert.deepEqual(where(ps), [[3, 5, 'BAD_CONFIG'], [4, 5, 'BAD_CONFIG'], [6, 7, 'BAD_PROPERTY'], [8, 9, 'BAD_CONFIG'], [11, 36, 'BAD_PROPERTY'], [11, 53, 'BAD_PROPERTY']]);
  assert.match(ps[0]!.message, /unknown key 'preferedOwners'/);
  assert.match(ps[2]!.message, /priv\.command: is required/);
  assert.match(ps[4]!.message, /unknown key 'cmmand'/);
  assert.match(ps[5]!.message, /user: must be a user name or a uid/);
});

test('a file with 100,000 problems reports the first 100 and a count', () => {
  const keys = Array.from({ length: 100_000 }, (_, i) => `    k${i}: 1`).join('\n');
  const ps = problems(`groups:\n  web:\n${keys}\n`);
  assert.equal(ps.length, 100);
  assert.deepEqual([ps[0]!.line, ps[98]!.line], [3, 101]);
  assert.match(ps[99]!.message, /and 99901 more problems/);
});

test('a resource name used in two groups', () => {
  const ps = problems('groups:\n  a:\n    resources:\n      x: { type: ip }\n  b:\n    resources:\n      x: { type: ip }\n');
  assert.deepEqual(where(ps), [[7, 7, 'RESOURCE_EXISTS']]);
});

test('empty or non-mapping documents', () => {
  assert.deepEqual(where(problems('')), [[1, 1, 'BAD_CONFIG']]);
  assert.deepEqual(where(problems('- a\n- b\n')), [[1, 1, 'BAD_CONFIG']]);
  assert.deepEqual(where(problems('groups:\n')), [[1, 1, 'BAD_CONFIG']]);
});

test('the report is bounded', () => {
  const keys = Array.from({ length: applyProblemsMax + 10 }, (_, i) => `    k${i}: 1`).join('\n');
  const ps = problems(`groups:\n  web:\n${keys}\n`);
  assert.equal(ps.length, applyProblemsMax);
  assert.match(ps[ps.length - 1]!.message, /and 11 more problems/);
});

test('server error paths map back to lines, dotted names included', () => {
  const r = loadApplyFile(good.replace(/web-srv/g, 'web.srv'));
  assert.ok(r.ok);
  assert.deepEqual(locatePath(r.file, 'groups.web.resources.web.srv.dependsOn'), { line: 16, col: 20 });
  assert.deepEqual(locatePath(r.file, 'groups.web.resources.web.srv.dependsOn[0]'), { line: 16, col: 21 });
  assert.deepEqual(locatePath(r.file, 'groups.web.preferredOwners.1'), { line: 4, col: 27 });
  // The server's own config paths start at resources: find the group that holds it.
  assert.deepEqual(locatePath(r.file, 'resources.web.srv.priv.user'), { line: 21, col: 17 });
  // A path that leaves the file stops at the deepest node found.
  assert.deepEqual(locatePath(r.file, 'groups.web.resources.web-ip.props.stopGraceMs'), { line: 12, col: 9 });
  assert.deepEqual(locatePath(r.file, 'groups.nothere'), { line: 3, col: 3 });
});

test('a value a viewer\'s export redacted is refused at its line, not applied over the secret', () => {
  const text = 'groups:\n  g:\n    resources:\n      r:\n        type: process\n        priv:\n          command: /bin/true\n          env: ["A=1", "DB_PASSWORD=(redacted)"]\n';
  const ps = problems(text);
  assert.deepEqual(ps.map((p) => [p.line, p.code, p.path]), [[8, 'BAD_PROPERTY', 'groups.g.resources.r.priv.env']]);
  assert.match(ps[0]!.message, /viewer's cluster export/);
});

test('a resource may carry its own state', () => {
  const r = loadApplyFile('groups:\n  g:\n    resources:\n      r:\n        type: process\n        state: offline\n        priv:\n          command: /bin/true\n');
  assert.ok(r.ok);
  assert.equal(r.spec.groups.g!.resources!.r!.state, 'offline');
  assert.deepEqual(problems('groups:\n  g:\n    resources:\n      r:\n        type: process\n        state: up\n        priv:\n          command: /bin/true\n').map((p) => p.line), [6]);
});
