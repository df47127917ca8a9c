// A failed statement does not end the script (Invoke-Command parity): the CREATE_PIPELINE carries
// RedirectShellErrorOutputPipe = true, as PowerShell's own client (the PowerShell class) sends it. Checked on the
// message itself, through `winrm-ts ps --local` and through the Session API over WinRM to our endpoint and real pwsh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serialize, toPlain } from '../../src/clixml/index.js';
import { createPipeline } from '../../src/psrp/messages.js';
import { Session } from '../../src/client/session.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { runCli } from '../helpers/cli.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);
const SCRIPT = 'Get-NoSuchThing; "after"';

test('CREATE_PIPELINE: RedirectShellErrorOutputPipe is true unless the caller says otherwise (MS-PSRP 2.2.3.11)', () => {
  const body = (o: { redirectShellErrorOutputPipe?: boolean } = {}) =>
    serialize(createPipeline({ statements: [[{ cmd: SCRIPT, isScript: true }]], ...o }));
  assert.match(body(), /<B N="RedirectShellErrorOutputPipe">true<\/B>/);
  assert.match(body({ redirectShellErrorOutputPipe: false }), /<B N="RedirectShellErrorOutputPipe">false<\/B>/);
});

test('ps --local: the error on stderr, then "after"; exit 1', { skip }, async () => {
  const r = await runCli(['ps', '--local', '--pwsh', pwsh!, '-c', SCRIPT], { timeoutMs: 180_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout.replace(/\r/g, '').trim(), 'after');
  assert.match(r.stderr, /Get-NoSuchThing/);
});

let ps: PsrpEndpoint;
let ep: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  if (skip) return;
  ps = new PsrpEndpoint({ pwsh });
  ep = await startEndpoint({ auth: ['negotiate'], allowUnencrypted: false, resources: ps.resources() });
});
after(async () => {
  if (!skip) {
    await ps.close();
    await ep.close();
  }
});

test('Session API over WinRM: the error record, then "after"', { skip }, async () => {
  const s = await Session.open({
    transport: 'wsman',
    computerName: `127.0.0.1:${ep.port}`,
    username: USER,
    password: PASSWORD,
    auth: 'negotiate',
  });
  try {
    const r = await s.invoke(SCRIPT);
    assert.deepEqual(
      r.output.map((v) => toPlain(v)),
      ['after'],
    );
    assert.equal(r.hadErrors, true);
    assert.equal(r.streams.error.length, 1);
    assert.match(String((r.streams.error[0] as { toStringValue?: string }).toStringValue), /Get-NoSuchThing/);
  } finally {
    await s.close();
  }
});
