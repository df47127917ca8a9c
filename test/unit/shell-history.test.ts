// The shell's history file: one per host under $XDG_CONFIG_HOME/winrm-ts/history (default ~/.config), a safe file
// name from any -H form, newest-first in memory and oldest-first on disk, bounded, mode 600 in a 700 directory, and
// a directory that cannot be written is reported, not thrown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { historyDir, historyFile, loadHistory, saveHistory } from '../../src/cli/shell/history.js';

test('history lives under XDG_CONFIG_HOME (absolute only), else ~/.config; one file per host', () => {
  assert.equal(historyDir({ XDG_CONFIG_HOME: '/x/cfg' }), '/x/cfg/winrm-ts/history');
  assert.equal(historyDir({ XDG_CONFIG_HOME: 'relative' }), join(homedir(), '.config', 'winrm-ts', 'history'));
  assert.equal(historyDir({}), join(homedir(), '.config', 'winrm-ts', 'history'));
  const env = { XDG_CONFIG_HOME: '/c' };
  assert.equal(historyFile('Server1.corp.example', env), '/c/winrm-ts/history/server1.corp.example');
  assert.equal(historyFile('[::1]:5986', env), '/c/winrm-ts/history/___1__5986');
  assert.equal(historyFile('../../etc/passwd', env), '/c/winrm-ts/history/__.._etc_passwd');
  assert.equal(historyFile('', env), '/c/winrm-ts/history/default');
});

test('save then load round-trips newest-first, keeps the newest `max`, mode 600 in a 700 directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-hist-'));
  try {
    const file = historyFile('host', { XDG_CONFIG_HOME: dir });
    assert.deepEqual(loadHistory(file), [], 'no file yet');
    assert.equal(saveHistory(file, ['third', 'second', 'first']), undefined);
    assert.equal(readFileSync(file, 'utf8'), 'first\nsecond\nthird\n');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'winrm-ts', 'history')).mode & 0o777, 0o700);
    assert.deepEqual(loadHistory(file), ['third', 'second', 'first']);
    assert.deepEqual(loadHistory(file, 2), ['third', 'second'], 'the newest lines are kept');
    saveHistory(file, ['c', 'b', 'a'], 2);
    assert.equal(readFileSync(file, 'utf8'), 'b\nc\n');
    // an unwritable place is an error value, not an exception
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const err = saveHistory(join(blocker, 'history', 'h'), ['x']);
    assert.ok(err instanceof Error);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
