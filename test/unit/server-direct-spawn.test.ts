/** The endpoint runs a WinRS command line without /bin/sh only when the shell would do exactly the same. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { directArgv } from '../../src/server/spawn.js';

const PATH = '/usr/local/bin:/usr/bin:/bin';

test('plain words naming an executable on PATH run directly', () => {
  assert.deepEqual(directArgv('head -c 5 /dev/zero', PATH), ['head', '-c', '5', '/dev/zero']);
  assert.deepEqual(directArgv('  /bin/true  ', PATH), ['/bin/true']);
  assert.deepEqual(directArgv('ls\t-la /tmp', PATH), ['ls', '-la', '/tmp']);
});

test('shell syntax, builtins, assignments, unknown programs and relative paths go through the shell', () => {
  for (const line of [
    'echo x',
    'exit 3',
    'cd /tmp',
    'FOO=1 env',
    'ls | wc -l',
    'ls > /tmp/x',
    'printf "%s" a',
    "ls 'a b'",
    'ls $HOME',
    'ls *',
    'ls ~',
    'ls a\\ b',
    'ls; ls',
    'ls && ls',
    'sleep 1 &',
    'ls `pwd`',
    'ls (x)',
    'no-such-program-x1 a',
    './run.sh',
    'ls\nrm x',
    'ls #c',
    '',
  ])
    assert.equal(directArgv(line, PATH), undefined, line);
  assert.equal(directArgv('head -c 1', 'relative/bin'), undefined, 'PATH entries that are not absolute are not searched');
});
