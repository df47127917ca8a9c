// Independent peer: pypsrp 0.9.1 (with pyspnego and requests-credssp; Python sources in ../shared/peers/python, MIT)
// against our endpoint with the real pwsh 7.6.9 behind it. pypsrp's Client, per authentication: NTLM, Negotiate and
// CredSSP over HTTP with message encryption (this file), Basic over HTTPS with its CA file (pypsrp-https.test.ts);
// execute_cmd (WinRS), execute_ps (PSRP), a WinRS Process fed on stdin up to End="True" (EOF), and copy + fetch with
// the same bytes back (once here, with Negotiate; again over HTTPS).
//
// Platform differences from a Windows host (the only deviations allowed; also listed in the README):
//  - there is no cmd.exe: WinRS commands run through /bin/sh, so `echo hi` prints "hi\n", not "hi\r\n";
//  - paths are POSIX paths (/tmp/...), not C:\...; copy/fetch take them as pypsrp passes them through;
//  - $env:USERNAME is the logon's user name (the endpoint sets it; there is no Windows profile).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { checkClient, pypsrpFixture, runPypsrp, type ClientResult } from './fixtures/pypsrp/run.js';

const f = pypsrpFixture(() => ({ auth: ['negotiate', 'ntlm', 'credssp'], allowUnencrypted: false }));
const { skip, py } = f;

for (const auth of ['ntlm', 'negotiate', 'credssp']) {
  const copy = auth === 'negotiate';
  test(
    `pypsrp Client over HTTP with ${auth} and encryption: execute_cmd, execute_ps, WinRS stdin to EOF${copy ? ', copy + fetch' : ''}`,
    { skip },
    async () => {
      const work = mkdtempSync(join(f.dir, `${auth}-`));
      const r = await runPypsrp<ClientResult>(py!, 'client', f.endpoint.port, [auth, 'http', '-', work, copy ? 'copy' : 'nocopy']);
      checkClient(r, copy);
      assert.ok(!f.endpoint.lines.some((l) => /unencrypted/i.test(l)), 'every HTTP request was sealed');
      assert.ok(!f.endpoint.lines.some((l) => l.includes('Passw0rd!')), 'no password in the endpoint log');
    },
  );
}
