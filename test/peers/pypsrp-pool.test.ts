// Independent peer: pypsrp 0.9.1's RunspacePool / PowerShell (Python sources in ../shared/peers/python, MIT) against
// our endpoint and the real pwsh 7.6.9: scripts, cmdlets, parameters, input, every stream, host calls with their
// colours (Write2 / WriteLine3, as on Windows), ReadLine and ReadLineAsSecureString, the SecureString key exchange,
// error semantics with and without RedirectShellErrorOutputPipe, a stop with a lot of unread output (answered at
// once, the shell stays usable), and the client's Locale reaching pwsh's culture. Disconnect / connect, is_alive
// and pool calls are in pypsrp-reconnect.test.ts.
//
// Platform differences from a Windows host: none in these checks (paths and cmd.exe are not involved).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pypsrpFixture, runPypsrp } from './fixtures/pypsrp/run.js';

const f = pypsrpFixture(() => ({ auth: ['negotiate', 'ntlm'], allowUnencrypted: false }));
const { skip, py, log } = f;

test(
  'RunspacePool: scripts, cmdlets, parameters, input, every stream, host calls with colours, SecureString both ways',
  { skip },
  async () => {
    const r = await runPypsrp(py!, 'pool', f.endpoint.port);
    assert.deepEqual(r.script, [2, 'two', 7]);
    assert.deepEqual(r.cmdlets, ['/tmp/x', 'positional'], 'Join-Path -Path -ChildPath; a second statement with a positional argument');
    assert.deepEqual(r.parameters, ['one-2']);
    assert.deepEqual(r.input, [2, 4, 6]);
    assert.deepEqual(r.streams, {
      output: ['out'],
      had_errors: false,
      error: ['an error'],
      warning: ['a warning'],
      verbose: ['verbose'],
      debug: ['debug'],
      information: ['info'],
      progress: 1,
    });
    assert.deepEqual(r.host_output, ['typed by pypsrp'], 'ReadLine answered by the client host');
    // ConsoleColor Red = 12, Blue = 9, Green = 10, Black = 0: the colours arrive as on Windows
    assert.deepEqual((r.host_calls as unknown[]).slice(0, 5), [
      ['Write2', 12, 9, 'coloured'],
      ['WriteLine3', 10, 0, 'line'],
      ['Write1', 'plain'],
      ['WriteLine2', 'plain line'],
      ['ReadLine'],
    ]);
    assert.deepEqual(r.secure_out, ['from the server'], 'a SecureString output decrypted with the exchanged session key');
    assert.deepEqual(r.secure_in, ['SecureString', 's3cret typed'], 'ReadLineAsSecureString answered with an encrypted SecureString');
    const [out, hadErrors, errors] = r.error_redirect_True as [unknown[], boolean, string[]];
    assert.deepEqual(out, ['after'], 'with RedirectShellErrorOutputPipe the script goes on after a failed statement');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /Get-NoSuchThing/);
    assert.equal(hadErrors, false);
    const [out2, hadErrors2] = r.error_redirect_False as [unknown[], boolean, string[]];
    assert.deepEqual(out2, [], "without it (pypsrp's default) the pipeline stops at the failed statement, as on Windows");
    assert.equal(hadErrors2, true);
  },
);

test('stop (ctrl_c and crtl_c) of a command with lots of unread output is answered at once; the next command runs', { skip }, async (t) => {
  const r = await runPypsrp<{ stops: Array<{ code: string; signal_s: number; next: unknown[] }> }>(py!, 'stop', f.endpoint.port);
  assert.deepEqual(
    r.stops.map((s) => [s.code, s.next]),
    [
      ['ctrl_c', ['next ok']],
      ['crtl_c', ['next ok']],
    ],
  );
  const stopped = log.filter((l) => /stopped by the client \((\d+) bytes of unread output dropped\)/.test(l));
  assert.equal(stopped.length, 2, log.join('\n'));
  // the figures go to the test report, not into assertions (the machine's speed decides them)
  for (const s of r.stops) t.diagnostic(`${s.code}: Signal answered in ${s.signal_s.toFixed(2)} s`);
  for (const l of stopped) t.diagnostic(l);
});

test("the client's WS-Man Locale is pwsh's CurrentCulture and CurrentUICulture", { skip }, async () => {
  const de = await runPypsrp(py!, 'locale', f.endpoint.port, ['de-DE']);
  assert.deepEqual(de.culture, ['de-DE', 'de-DE', '1,5']);
  const fr = await runPypsrp(py!, 'locale', f.endpoint.port, ['fr-FR']);
  assert.deepEqual(fr.culture, ['fr-FR', 'fr-FR', '1,5']);
});
