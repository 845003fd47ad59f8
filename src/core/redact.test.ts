import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactSecretArgs, redactSecretText } from './redact.js';

test('redactSecretText: URL passwords and secret options\' values, nothing else', () => {
  const rows: [string, string][] = [
    ['probe http://admin:hunter2@db:8080/health failed', 'probe http://admin:(redacted)@db:8080/health failed'],
    ['https://user@host/x', 'https://user@host/x'],
    ['started /usr/bin/pg --password hunter2 --port 5432', 'started /usr/bin/pg --password (redacted) --port 5432'],
    ['run --api-token=abc123 -v', 'run --api-token=(redacted) -v'],
    ['--mode fast --keep-alive 3', '--mode fast --keep-alive 3'],
    ['ssh -i x --ssh-key /k/id', 'ssh -i x --ssh-key (redacted)'],
    ['no secrets here', 'no secrets here'],
    ['PGPASSWORD=hunter2 pg_isready -h db', 'PGPASSWORD=(redacted) pg_isready -h db'],
    ['psql "host=db password=hunter2 dbname=app"', 'psql "host=db password=(redacted) dbname=app"'],
    ['GET /health?api_key=abc123&x=1', 'GET /health?api_key=(redacted)&x=1'],
    ["curl -H 'Authorization: Bearer abc.def-1' http://h/", "curl -H 'Authorization: Bearer (redacted)' http://h/"],
    ['mode=fast x=1 timeout=5', 'mode=fast x=1 timeout=5'],
    ['wget --header="Authorization: Basic dTpw" http://h/', 'wget --header="Authorization: Basic (redacted)" http://h/'],
    ['Basic checks passed', 'Basic checks passed'],
  ];
  for (const [input, want] of rows) assert.equal(redactSecretText(input), want, input);
});

test('redactSecretArgs: the argument after a secret option, --secret=value, URL passwords', () => {
  assert.deepEqual(redactSecretArgs(['--password', 'hunter2', '--port', '5432', '--db-secret=s3', 'http://u:p@h/']),
    ['--password', '(redacted)', '--port', '5432', '--db-secret=(redacted)', 'http://u:(redacted)@h/']);
  assert.deepEqual(redactSecretArgs(['3600']), ['3600']);
  assert.deepEqual(redactSecretArgs(['env', 'MYSQL_PWD=hunter2', 'mysqladmin', 'ping', '-H', 'Authorization: Bearer t0k']),
    ['env', 'MYSQL_PWD=(redacted)', 'mysqladmin', 'ping', '-H', 'Authorization: Bearer (redacted)']);
});

// The patterns are linear in their text: these inputs, a million characters each, took time
// quadratic in their length with patterns that backtrack (tens of minutes; seconds at 32,000
// characters). The limit is thousands of times what a linear pass takes, even on a loaded machine.
test('redaction of long adversarial texts ends (no pattern backtracks quadratically)', { timeout: 120_000 }, () => {
  const n = 250_000;
  const texts = ['--' + 'pass'.repeat(n), '= a' + 'pass'.repeat(n) + '!', 'http://' + 'a'.repeat(4 * n), 'http://u:' + 'x'.repeat(4 * n), '- ' + 'a'.repeat(4 * n) + '!'];
  for (const t of texts) assert.equal(redactSecretText(t).length > 0, true);
  assert.equal(redactSecretArgs(['-' + 'pass'.repeat(n) + '!', 'x']).length, 2);
  assert.equal(redactSecretText(`x --db-pass${'word'.repeat(10)} s3 y`), `x --db-pass${'word'.repeat(10)} (redacted) y`);
});
