/**
 * Session over OutOfProc against the real PowerShell 7.6.9 (`pwsh -s`): values, streams, host calls, SecureString /
 * PSCredential, stop, concurrent pipelines, invokeFile with param(), long scripts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { Session, type InvokeEvent, type PSHostHandler } from '../../src/client/session.js';
import { psCredential } from '../../src/client/host.js';
import { PSObject, PSPrimitive, ps, toPlain } from '../../src/clixml/index.js';
import { PSInvocationState, RunspacePoolState } from '../../src/psrp/state.js';
import { AbortError, TransportError } from '../../src/errors.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);
let s: Session;
const hostLog: string[] = [];
const testHost: PSHostHandler = {
  ui: {
    readLine: () => 'typed answer',
    readLineAsSecureString: () => 'S3cret!',
    promptForChoice: (_c, _m, choices, def) => {
      hostLog.push(`choice:${choices.map((c) => c.label).join('|')}:${def}`);
      return 2;
    },
    promptForCredential: (_c, _m, user) => ({ userName: user || 'EXAMPLE\\bob', password: 'Cr3d!' }),
    prompt: (_c, _m, fields) => Object.fromEntries(fields.map((f) => [f.name, `field-${f.name}`])),
    writeLine: (t) => {
      hostLog.push(`line:${t}`);
    },
    writeProgress: (_id, rec) => {
      hostLog.push(`progress:${(rec as PSObject).get('Activity')}:${(rec as PSObject).get('PercentComplete')}`);
    },
    rawUI: { windowTitle: 'winrm-ts test', bufferSize: { width: 100, height: 200 } },
  },
};
const plain = (v: unknown[]) => v.map((x) => toPlain(x as never));

before(async () => {
  if (!skip) s = await Session.open({ transport: 'process', pwsh, host: testHost, maxRunspaces: 3 });
});
after(async () => {
  await s?.close();
});

test('values and types come back deserialized', { skip }, async () => {
  const r = await s.invoke(
    '1+1; "héllo ✓ 𝄞"; [int64]5; 1.5; $true; $null; [pscustomobject]@{ a = 1; b = @("x", "y") }; $PSVersionTable.PSVersion.ToString()',
  );
  assert.equal(r.hadErrors, false);
  assert.equal(r.state, PSInvocationState.Completed);
  assert.deepEqual(plain(r.output), [2, 'héllo ✓ 𝄞', 5, 1.5, true, null, { a: 1, b: ['x', 'y'] }, r.output[7]]);
  assert.match(String(r.output[7]), /^7\.6\./);
  assert.ok(r.output[2] instanceof PSPrimitive && r.output[2].tag === 'I64');
});

test('every output stream arrives', { skip }, async () => {
  const r = await s.invoke(`$VerbosePreference = 'Continue'; $DebugPreference = 'Continue'; $InformationPreference = 'Continue'
    Write-Output o; Write-Error e1; Write-Warning w1; Write-Verbose v1; Write-Debug d1; Write-Information i1
    Write-Progress -Activity act -Status st -PercentComplete 40`);
  assert.deepEqual(plain(r.output), ['o']);
  assert.equal(r.hadErrors, true);
  assert.equal(String(r.streams.error[0]), 'e1');
  assert.equal(String(r.streams.warning[0]), 'w1');
  assert.equal(String(r.streams.verbose[0]), 'v1');
  assert.equal(String(r.streams.debug[0]), 'd1');
  assert.equal(String((r.streams.information[0] as PSObject).get('MessageData')), 'i1');
  const pr = r.streams.progress[0] as PSObject;
  assert.equal(pr.get('Activity'), 'act');
  assert.equal(pr.get('PercentComplete'), 40);
});

test('parameters, positional args, input and merged errors', { skip }, async () => {
  // like Invoke-Command -Session, scripts run in the session's global scope: a typed param persists, so use unique names
  const r = await s.invoke('param($pa, [int]$pb, $Named) "$pa|$($pb + 1)|$Named"', { args: ['x', '41'], parameters: { Named: 'n' } });
  assert.deepEqual(plain(r.output), ['x|42|n']);
  const i = await s.invoke('process { $_ * 10 }', { input: [1, 2, 3] });
  assert.deepEqual(plain(i.output), [10, 20, 30]);
  async function* gen() {
    yield 'a';
    yield 'b';
  }
  const j = await s.invoke('$input | ForEach-Object { $_.ToUpper() }', { input: gen() });
  assert.deepEqual(plain(j.output), ['A', 'B']);
  const m = await s.invoke('Write-Error merged; 1', { mergeErrorToOutput: true });
  assert.equal(m.streams.error.length, 0);
  assert.equal(m.output.length, 2);
});

test('several statements, commands with parameters and merged streams (invokePipeline)', { skip }, async () => {
  const r = await s.invokePipeline({
    statements: [
      [{ cmd: '"first"', isScript: true }],
      [{ cmd: 'Write-Output', args: [{ name: 'InputObject', value: 'second' }] }],
      [
        { cmd: 'Get-Date', args: [{ name: 'Year', value: 2001 }] },
        { cmd: 'Select-Object', args: [{ name: 'ExpandProperty', value: 'Year' }] },
      ],
      [{ cmd: 'Write-Error "e"; "after"', isScript: true, mergeToOutput: { error: true } }],
    ],
  });
  assert.equal(r.streams.error.length, 0);
  assert.deepEqual(plain([r.output[0], r.output[1], r.output[2], r.output[4]]), ['first', 'second', 2001, 'after']);
  assert.ok((r.output[3] as PSObject).isType('System.Management.Automation.ErrorRecord'));
});

test('a failing pipeline reports its error record', { skip }, async () => {
  const r = await s.invoke('1; throw "it broke"');
  assert.equal(r.state, PSInvocationState.Failed);
  assert.equal(r.hadErrors, true);
  assert.deepEqual(plain(r.output), [1]);
  assert.match(String(r.streams.error.at(-1)), /it broke/);
});

test('host calls: Read-Host, PromptForChoice, Get-Credential, Write-Progress, Write-Host, RawUI', { skip }, async () => {
  hostLog.length = 0;
  const r = await s.invoke(`
    $a = Read-Host
    $b = Read-Host -Prompt 'Your name'
    $c = $host.UI.PromptForChoice('cap', 'msg', [System.Management.Automation.Host.ChoiceDescription[]]@('&Yes', '&No', '&Maybe'), 1)
    $cred = Get-Credential -UserName 'EXAMPLE\\alice' -Message 'creds please'
    $sec = Read-Host -AsSecureString
    Write-Progress -Activity 'copying' -Status 'half' -PercentComplete 50
    Write-Host 'to the host'
    $a; $b; $c; $cred.UserName; ($cred.GetNetworkCredential().Password -eq 'Cr3d!'); \
([Net.NetworkCredential]::new('', $sec).Password -eq 'S3cret!')
    $host.UI.RawUI.WindowTitle; $host.UI.RawUI.BufferSize.Width`);
  assert.equal(r.hadErrors, false, String(r.streams.error[0]));
  assert.deepEqual(plain(r.output), ['typed answer', 'field-Your name', 2, 'EXAMPLE\\alice', true, true, 'winrm-ts test', 100]);
  assert.ok(hostLog.includes('choice:&Yes|&No|&Maybe:1'), hostLog.join(','));
  assert.ok(hostLog.includes('progress:copying:50'), hostLog.join(','));
  assert.ok(hostLog.includes('line:to the host'), hostLog.join(','));
});

test('a host without Read-Host support makes Read-Host fail in the script, not hang', { skip }, async () => {
  const r = await s.invoke('try { Read-Host } catch { "caught: $($_.Exception.Message)" }', { host: {} });
  assert.match(String(r.output[0]), /^caught: .*(host|ReadLine)/);
});

test('SecureString and PSCredential sent by the client arrive intact (compared remotely)', { skip }, async () => {
  const r = await s.invoke(
    `param([securestring]$Sec, [pscredential]$Cred)
    [Net.NetworkCredential]::new('', $Sec).Password -eq 'pä$$ wörd ✓'
    $Cred.UserName -eq 'DOM\\user'
    $Cred.GetNetworkCredential().Password -eq 'c-pw'`,
    { parameters: { Sec: ps.secureString('pä$$ wörd ✓'), Cred: psCredential('DOM\\user', 'c-pw') } },
  );
  assert.equal(r.hadErrors, false, String(r.streams.error[0]));
  assert.deepEqual(plain(r.output), [true, true, true]);
  assert.ok(s.pool.hasSessionKey);
  // and back: a SecureString from the server decrypts with the session key
  const back = await s.invoke(`ConvertTo-SecureString -AsPlainText -Force 'from server'`);
  const v = back.output[0] as PSPrimitive;
  assert.ok(v instanceof PSPrimitive && v.tag === 'SS');
  assert.equal((v.value as import('../../src/clixml/index.js').PSSecureString).reveal(), 'from server');
});

test('stop: an endless pipeline stops promptly and the pool stays usable', { skip }, async () => {
  const ac = new AbortController();
  const started = s.stream('"started"; while ($true) {}', { signal: ac.signal });
  const first = await started.next();
  assert.deepEqual(toPlain(first.value as never), { type: 'output', value: 'started' });
  const t0 = Date.now();
  ac.abort();
  await assert.rejects(async () => {
    for await (const _ of started) {
      /* drain */
    }
  }, AbortError);
  const ms = Date.now() - t0;
  assert.ok(ms < 5000, `stopped after ${ms} ms (requirement: 2 s; bound kept generous for noisy machines)`);
  assert.equal(s.state, RunspacePoolState.Opened);
  assert.deepEqual(plain((await s.invoke('"still usable"')).output), ['still usable']);
});

test('several pipelines run at once on one pool', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-psrp-'));
  try {
    const flag = join(dir, 'flag');
    // A waits for a file that only B creates: both must be running at the same time to finish
    const a = s.invoke(`param($f) while (-not (Test-Path $f)) { Start-Sleep -Milliseconds 20 }; 'A done'`, { args: [flag] });
    const b = s.invoke(`param($f) Set-Content -Path $f -Value x; 'B done'`, { args: [flag] });
    const c = s.invoke(`1..3`);
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    assert.deepEqual([...plain(ra.output), ...plain(rb.output), ...plain(rc.output)], ['A done', 'B done', 1, 2, 3]);
    assert.ok(existsSync(flag));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('invokeFile honours the param() block (Invoke-Command -FilePath)', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-psrp-'));
  try {
    const f = join(dir, 's.ps1');
    writeFileSync(f, '\uFEFFparam([string]$Name, [int]$Count = 1)\n1..$Count | ForEach-Object { "hello $Name $_" }\n');
    const r = await s.invokeFile(f, { args: ['world', '3'] });
    assert.deepEqual(plain(r.output), ['hello world 1', 'hello world 2', 'hello world 3']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('long scripts: > 3000 characters and 1 MB', { skip }, async () => {
  const s3k = '$x = 0; ' + '$x += 1; '.repeat(400) + '$x';
  assert.ok(s3k.length > 3000);
  assert.deepEqual(plain((await s.invoke(s3k)).output), [400]);
  const big = '$s = "' + 'a'.repeat(1024 * 1024) + '"; $s.Length';
  assert.deepEqual(plain((await s.invoke(big)).output), [1024 * 1024]);
});

test('the session key is exchanged while opening by default: a server-sent SecureString decrypts at once', { skip }, async () => {
  const s2 = await Session.open({ transport: 'process', pwsh });
  try {
    assert.ok(s2.pool.hasSessionKey, 'key exchanged during open (protocol >= 2.2)');
    const r = await s2.invoke(`ConvertTo-SecureString -AsPlainText -Force 'sent by the server'`);
    assert.equal(r.hadErrors, false, String(r.streams.error[0]));
    const v = r.output[0] as PSPrimitive;
    assert.ok(v instanceof PSPrimitive && v.tag === 'SS');
    assert.equal((v.value as import('../../src/clixml/index.js').PSSecureString).reveal(), 'sent by the server');
  } finally {
    await s2.close();
  }
});

describe('exchangeKeys: false (lazy key exchange), then the pwsh process dies', { skip }, () => {
  let lazy: Session;
  before(async () => {
    lazy = await Session.open({
      transport: 'process',
      pwsh,
      exchangeKeys: false,
      host: { ui: { readLineAsSecureString: () => 'pin-Secret-9' } },
    });
  });
  after(async () => {
    await lazy?.close();
  });

  test('Read-Host "pin" -AsSecureString as the first secret: the answer waits for the key exchange', async () => {
    assert.equal(lazy.pool.hasSessionKey, false);
    // with a prompt text Read-Host calls $host.UI.Prompt with a SecureString field (not ReadLineAsSecureString)
    const r = await lazy.invoke(`$ss = Read-Host 'pin' -AsSecureString; [Net.NetworkCredential]::new('', $ss).Password -eq 'pin-Secret-9'`);
    assert.equal(r.hadErrors, false, String(r.streams.error[0]));
    assert.deepEqual(plain(r.output), [true]);
    assert.ok(lazy.pool.hasSessionKey);
  });

  test('connection loss mid-pipeline: the running stream rejects with the TransportError', async () => {
    const states: InvokeEvent[] = [];
    const err = await (async () => {
      for await (const ev of lazy.stream('$PID; while ($true) { Start-Sleep -Milliseconds 50 }')) {
        if (ev.type === 'output') process.kill(Number(toPlain(ev.value)), 'SIGKILL');
        if (ev.type === 'state') states.push(ev);
      }
    })().then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err instanceof TransportError, `${String(err)} ${JSON.stringify(states)}`);
    assert.match(err.message, /closed unexpectedly: pwsh exited/);
    assert.deepEqual(
      states.map((e) => e.type === 'state' && e.state),
      [PSInvocationState.Failed],
    );
    const next = await lazy.invoke('1').then(
      () => undefined,
      (e: Error) => e,
    );
    assert.equal(next, err, 'the session refuses with the same error');
  });
});

test('receive backpressure: a consumer that stops reading pauses the pwsh stdout, nothing is lost', { skip }, async () => {
  const s3 = await Session.open({ transport: 'process', pwsh, maxBufferedEvents: 16 });
  try {
    const it = s3.stream('1..20000');
    const first = await it.next();
    assert.deepEqual(toPlain(first.value as never), { type: 'output', value: 1 });
    // stop reading; wait (bounded) until the session pauses the transport
    for (let i = 0; i < 500 && !s3.receivePaused; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(s3.receivePaused, `the transport was never paused (${s3.bufferedEvents} events buffered)`);
    await new Promise((r) => setTimeout(r, 300)); // give unbounded buffering a chance to show
    const buffered = s3.bufferedEvents;
    // bound: the high-water mark plus what one pipe read already held when reading paused
    assert.ok(buffered < 2000, `${buffered} events buffered while paused`);
    const rest: unknown[] = [];
    for await (const ev of it) if (ev.type === 'output') rest.push(toPlain(ev.value));
    assert.equal(rest.length, 19999);
    assert.equal(rest[0], 2);
    assert.equal(rest.at(-1), 20000);
    assert.equal(s3.receivePaused, false);
    assert.deepEqual(plain((await s3.invoke('"after"')).output), ['after']);
  } finally {
    await s3.close();
  }
});
