// Independent peer: pypsrp 0.9.1 (with pyspnego and requests-credssp; Python sources in ../shared/peers/python, MIT)
// against our endpoint with the real pwsh 7.6.9 behind it. pypsrp's Client, per authentication: NTLM, Negotiate and
// CredSSP over HTTP with message encryption, Basic over HTTPS (its CA file); execute_cmd (WinRS), execute_ps (PSRP),
// a WinRS Process fed on stdin up to End="True" (EOF), copy + fetch with the same bytes back.
//
// Platform differences from a Windows host (the only deviations allowed; also listed in the README):
//  - there is no cmd.exe: WinRS commands run through /bin/sh, so `echo hi` prints "hi\n", not "hi\r\n";
//  - paths are POSIX paths (/tmp/...), not C:\...; copy/fetch take them as pypsrp passes them through;
//  - $env:USERNAME is the logon's user name (the endpoint sets it; there is no Windows profile).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { findPwsh, peerSkip, pypsrpPath } from '../helpers/peers.js';
import { selfSigned, startEndpoint } from '../helpers/server-fixture.js';
import { runPypsrp } from './fixtures/pypsrp/run.js';

const pwsh = findPwsh();
const py = pypsrpPath();
const skip = peerSkip('pypsrp 0.9.1 (../shared/peers/python) + python3-requests + pwsh', !!py && !!pwsh, 'run `npm run peers:install`; pypsrp comes from ../shared/peers/python');

let ps: PsrpEndpoint;
let http: Awaited<ReturnType<typeof startEndpoint>>;
let https: Awaited<ReturnType<typeof startEndpoint>>;
let dir: string;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-pypsrp-'));
  ps = new PsrpEndpoint({ pwsh });
  http = await startEndpoint({ auth: ['negotiate', 'ntlm', 'credssp'], allowUnencrypted: false, resources: ps.resources() });
  const c = selfSigned();
  https = await startEndpoint({ auth: ['basic'], allowUnencrypted: false, https: true, cert: c.cert, key: c.key, resources: ps.resources() });
});
after(async () => {
  if (skip) return;
  await ps.close(); await http.close(); await https.close();
  rmSync(dir, { recursive: true, force: true });
});

interface ClientResult { cmd: [string, string, number]; ps: [string, boolean]; stdin: [string, number]; copy: [string, string, string] }

for (const [auth, scheme] of [['ntlm', 'http'], ['negotiate', 'http'], ['credssp', 'http'], ['basic', 'https']] as const) {
  test(`pypsrp Client over ${scheme.toUpperCase()} with ${auth}: execute_cmd, execute_ps, WinRS stdin to EOF, copy + fetch`, { skip }, async () => {
    const work = mkdtempSync(join(dir, `${auth}-`));
    const port = scheme === 'https' ? https.port : http.port;
    const r = await runPypsrp<ClientResult>(py!, 'client', port, [auth, scheme, selfSigned().certFile, work]);
    assert.deepEqual(r.cmd, ['hi\n', '', 0], 'execute_cmd("echo hi") through /bin/sh');
    assert.deepEqual(r.ps, ['2\nalice', false], 'execute_ps("1+1; $env:USERNAME")');
    assert.deepEqual(r.stdin, ['x\ny\n', 0], 'cat read both Sends and ended at End="True"');
    const [up, remote, down] = r.copy;
    assert.equal(remote, up, 'the copied file on the endpoint has the same bytes');
    assert.equal(down, up, 'fetch brought the same bytes back');
    const lines = (scheme === 'https' ? https : http).lines;
    if (scheme === 'http') assert.ok(!lines.some((l) => /unencrypted/i.test(l)), 'every HTTP request was sealed');
    assert.ok(!lines.some((l) => l.includes('Passw0rd!')), 'no password in the endpoint log');
  });
}
