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
  ];
  for (const [input, want] of rows) assert.equal(redactSecretText(input), want, input);
});

test('redactSecretArgs: the argument after a secret option, --secret=value, URL passwords', () => {
  assert.deepEqual(redactSecretArgs(['--password', 'hunter2', '--port', '5432', '--db-secret=s3', 'http://u:p@h/']),
    ['--password', '(redacted)', '--port', '5432', '--db-secret=(redacted)', 'http://u:(redacted)@h/']);
  assert.deepEqual(redactSecretArgs(['3600']), ['3600']);
});
