// PowerShell remoting over WinRM, end to end on 127.0.0.1: our client (Session over 'wsman' or a WSManTransport) ->
// our endpoint (`serve` + the PowerShell resource) -> the real pwsh 7.6.9 (`pwsh -s`). Basic over HTTPS, Negotiate
// (sealed HTTP) and CredSSP: values, streams, host calls, stop, -FilePath with param(), and the HTTP round trips of a
// warm invoke pinned.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, toPlain } from '../../src/index.js';
import { Session } from '../../src/client/session.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { PSV3_ENVELOPE_SIZE } from '../../src/remoting/wsman-pool.js';
import { WSManTransport } from '../../src/remoting/wsman-transport.js';
import { PSInvocationState } from '../../src/psrp/state.js';
import { startEndpoint, selfSigned, USER, PASSWORD } from '../helpers/server-fixture.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);
const sealedAuth = ['negotiate', 'credssp'];
const plain = (v: unknown[]) => v.map((x) => toPlain(x as never));

let ps: PsrpEndpoint;
let https: Awaited<ReturnType<typeof startEndpoint>>;
let http: Awaited<ReturnType<typeof startEndpoint>> | undefined;
let dir: string;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-psrp-'));
  ps = new PsrpEndpoint({ pwsh });
  const c = selfSigned();
  https = await startEndpoint({
    auth: ['basic', ...sealedAuth],
    allowUnencrypted: false,
    https: true,
    cert: c.cert,
    key: c.key,
    resources: ps.resources(),
  });
  http = await startEndpoint({ auth: sealedAuth, allowUnencrypted: false, resources: ps.resources() });
});
after(async () => {
  if (skip) return;
  await ps.close();
  await https.close();
  await http?.close();
  rmSync(dir, { recursive: true, force: true });
});

const basicHttps = () => ({
  transport: 'wsman' as const,
  computerName: `127.0.0.1:${https.port}`,
  https: true,
  ca: selfSigned().cert,
  username: USER,
  password: PASSWORD,
  auth: 'basic',
});

test('Basic over HTTPS: values, the user, streams, input, a script file with param(), stop', { skip }, async () => {
  const answers: string[] = [];
  const s = await Session.open({
    ...basicHttps(),
    host: {
      ui: {
        readLine: () => {
          answers.push('asked');
          return 'typed by the test host';
        },
      },
    },
  });
  try {
    const v = await s.invoke('$PSVersionTable.PSVersion.ToString(); $env:USERNAME; $env:USERDOMAIN; 1+1');
    assert.deepEqual(plain(v.output).slice(1), ['alice', 'EXAMPLE', 2]);
    assert.match(String(toPlain(v.output[0]!)), /^7\.6\./, 'the real pwsh 7.6');
    assert.equal(v.hadErrors, false);

    const st = await s.invoke('Write-Error boom; Write-Warning careful; Write-Verbose chatty -Verbose; Write-Information info; 5');
    assert.deepEqual(plain(st.output), [5]);
    assert.equal(st.hadErrors, true);
    assert.equal(st.streams.error.length, 1);
    assert.match(String((st.streams.error[0] as { toStringValue?: string }).toStringValue), /boom/);
    assert.equal(st.streams.warning.length, 1);
    assert.equal(st.streams.verbose.length, 1);
    assert.equal(st.streams.information.length, 1);

    const inp = await s.invoke('$input | ForEach-Object { $_ * 2 }', { input: [1, 2, 3] });
    assert.deepEqual(plain(inp.output), [2, 4, 6]);

    const host = await s.invoke('$x = Read-Host "name?"; "got: $x"');
    assert.deepEqual(
      plain(host.output),
      ['got: typed by the test host'],
      JSON.stringify(host.streams.error.map((e) => (e as { toStringValue?: string }).toStringValue)),
    );
    assert.equal(answers.length, 1, 'the host call reached our host once');

    const file = join(dir, 's.ps1');
    writeFileSync(file, 'param([string]$Name, [int]$Count = 1)\n1..$Count | ForEach-Object { "hello $Name $_" }\n');
    const f = await s.invokeFile(file, { args: ['world', 3] });
    assert.deepEqual(plain(f.output), ['hello world 1', 'hello world 2', 'hello world 3']);

    const big = `$x = 0; ${'$x++; '.repeat(40000)}$x`; // ~240 kB script: more than one envelope (Command + Send)
    assert.deepEqual(plain((await s.invoke(big)).output), [40000]);

    const ac = new AbortController();
    const events: string[] = [];
    await assert.rejects(
      async () => {
        for await (const e of s.stream('1; while ($true) { Start-Sleep -Milliseconds 20 }', { signal: ac.signal })) {
          events.push(e.type);
          if (e.type === 'output') ac.abort();
        }
      },
      { name: 'AbortError' },
    );
    assert.deepEqual(plain((await s.invoke('"still usable"')).output), ['still usable'], 'the pool survives a stop');
  } finally {
    await s.close();
  }
  assert.equal(ps.shells.size, 0, 'Delete removed the shell and its pwsh');
});

test('round trips: a warm invoke is Command + Receive; the envelope is sized from the host config (500 KiB)', { skip }, async () => {
  const c = connect({
    host: `127.0.0.1:${https.port}`,
    https: true,
    ca: selfSigned().cert,
    username: USER,
    password: PASSWORD,
    auth: 'basic',
  });
  try {
    // a Session over this client's WS-Man connections, so its requests can be counted
    const t = new WSManTransport(c.wsman);
    const s = await Session.open({ transport: t, exchangeKeys: false });
    assert.equal(await t.envelopeSized(), PSV3_ENVELOPE_SIZE, 'cfg:MaxEnvelopeSizekb 500 of the endpoint');
    await s.invoke('1+1'); // warm up the runspace
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = c.stats.requests;
      const r = await s.invoke('1+1');
      assert.deepEqual(plain(r.output), [2]);
      assert.equal(r.state, PSInvocationState.Completed);
      counts.push(c.stats.requests - before);
    }
    // Command, then Receive until Done: output, PIPELINE_STATE and CommandState Done usually share one Receive
    assert.ok(
      counts.every((n) => n >= 2 && n <= 3),
      `requests per invoke: ${counts.join(',')}`,
    );
    assert.equal(Math.min(...counts), 2, `requests per invoke: ${counts.join(',')}`);
    await s.close();
  } finally {
    c.close();
  }
});

test('Negotiate over sealed HTTP and CredSSP: the real pwsh as the logged-on user', { skip }, async () => {
  const s = await Session.open({
    transport: 'wsman' as const,
    computerName: `127.0.0.1:${http!.port}`,
    username: USER,
    password: PASSWORD,
    auth: 'negotiate',
  });
  try {
    const r = await s.invoke('$PSVersionTable.PSVersion.Major; $env:USERNAME; $env:WINRM_TS_LOGON_TYPE');
    assert.deepEqual(plain(r.output), [7, 'alice', 'network']);
  } finally {
    await s.close();
  }
  const c = await Session.open({
    transport: 'wsman' as const,
    computerName: `127.0.0.1:${http!.port}`,
    username: USER,
    password: PASSWORD,
    auth: 'credssp',
    delegateTo: ['wsman/127.0.0.1'],
  });
  try {
    const r = await c.invoke('$env:USERNAME; $env:WINRM_TS_LOGON_TYPE');
    assert.deepEqual(plain(r.output), ['alice', 'interactive'], 'CredSSP: an interactive logon with delegated credentials');
  } finally {
    await c.close();
  }
});

test('a host with MaxEnvelopeSizekb 150: the client reads it and a 400 kB script still fits (Command + Sends)', { skip }, async () => {
  const small = await startEndpoint({ resources: ps.resources(), maxEnvelopeSize: 153600 });
  const c = connect({ host: `127.0.0.1:${small.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
  try {
    const t = new WSManTransport(c.wsman);
    const s = await Session.open({ transport: t, exchangeKeys: false });
    assert.equal(await t.envelopeSized(), 153600, 'cfg:MaxEnvelopeSizekb 150, read by a config Get');
    const before = c.stats.requests;
    const r = await s.invoke(`$x = 0; ${'$x++; '.repeat(70000)}$x`);
    assert.deepEqual(plain(r.output), [70000]);
    assert.ok(c.stats.requests - before >= 4, 'the script went as Command + several Sends');
    await s.close();
  } finally {
    c.close();
    await small.close();
  }
});

test('Negotiate and CredSSP over HTTPS (channel binding, no message encryption)', { skip }, async () => {
  for (const auth of sealedAuth) {
    const s = await Session.open({
      transport: 'wsman' as const,
      computerName: `127.0.0.1:${https.port}`,
      https: true,
      ca: selfSigned().cert,
      username: USER,
      password: PASSWORD,
      auth,
      delegateTo: ['wsman/127.0.0.1'],
    });
    try {
      const r = await s.invoke('$env:USERNAME; $env:WINRM_TS_LOGON_MECHANISM');
      assert.deepEqual(plain(r.output), ['alice', auth === 'credssp' ? 'credssp' : plain(r.output)[1]], auth);
    } finally {
      await s.close();
    }
  }
});

test('several pipelines at once on one pool', { skip }, async () => {
  const s = await Session.open({ ...basicHttps(), maxRunspaces: 2 });
  try {
    const [a, b] = await Promise.all([
      s.invoke('1..3 | % { Start-Sleep -Milliseconds 100; "a$_" }'),
      s.invoke('1..3 | % { Start-Sleep -Milliseconds 100; "b$_" }'),
    ]);
    assert.deepEqual(plain(a.output), ['a1', 'a2', 'a3']);
    assert.deepEqual(plain(b.output), ['b1', 'b2', 'b3']);
  } finally {
    await s.close();
  }
});
