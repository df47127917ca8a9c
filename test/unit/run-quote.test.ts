/** `winrm-ts run` command-line assembly: arguments quoted only when needed (msvcrt rules, plain POSIX sh cases). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { quoteArg } from '../../src/cli/options.js';

test('plain words and paths pass unchanged; others are double-quoted with escapes', () => {
  assert.equal(quoteArg('echo'), 'echo');
  assert.equal(quoteArg('C:\\Windows\\System32'), 'C:\\Windows\\System32');
  assert.equal(quoteArg('日本語'), '日本語');
  assert.equal(quoteArg('exit 7'), '"exit 7"');
  assert.equal(quoteArg(''), '""');
  assert.equal(quoteArg('say "hi"'), '"say \\"hi\\""');
  assert.equal(quoteArg('C:\\Program Files\\'), '"C:\\Program Files\\\\"');
});

test('what the endpoint runs (/bin/sh -c "cmd args...") sees the original arguments', () => {
  const args = ['exit 7', 'echo out; echo err 1>&2', '日本語 ✓', "it's", 'a "quoted" word', ''];
  for (const a of args) {
    const line = `printf '%s|' ${quoteArg(a)}`;
    assert.equal(execFileSync('/bin/sh', ['-c', line]).toString(), `${a}|`, a);
  }
});
