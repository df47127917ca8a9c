// `ps` text output is PowerShell's own formatting: for a corpus of common commands, stdout and stderr of
// `winrm-ts ps` equal (ANSI stripped) what `pwsh -NoProfile -NonInteractive -c` prints for the same script, at the
// same width (warnings are left out: pwsh -c prints them on stdout, `ps` on stderr with verbose and debug).
// Also: output streams line by line, param() / exit N / --json keep working, no colours when piped, and the same
// text over the local WinRM endpoint with Negotiate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, utimesSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv, runCli } from '../helpers/cli.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { stripAnsi } from '../../src/cli/format.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);
let dir: string;
let width: number;

/** pwsh -c of the same script, plain text (as NO_COLOR / a pipe gives). */
function pwshC(script: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    execFile(
      pwsh!,
      ['-NoProfile', '-NonInteractive', '-c', `$PSStyle.OutputRendering = 'PlainText'; ${script}`],
      { timeout: 120_000, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') reject(err);
        else resolve({ stdout, stderr, code: err ? (err as { code: number }).code : 0 });
      },
    );
  });
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-fmt-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'a.txt'), 'hello\n');
  writeFileSync(join(dir, 'b.log'), 'x'.repeat(1234));
  const t = new Date('2024-01-02T03:04:00Z');
  for (const f of ['a.txt', 'b.log', 'sub']) utimesSync(join(dir, f), t, t);
  // the width pwsh formats for here (its console's, 80 without one); the CLI is given the same through $COLUMNS
  width = Number((await pwshC('$Host.UI.RawUI.BufferSize.Width')).stdout.trim());
  assert.ok(width >= 20, `pwsh width ${width}`);
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ ...process.env, COLUMNS: String(width), NO_COLOR: '1' });

const CORPUS: Array<[string, () => string]> = [
  [
    'Get-ChildItem with its Directory: header, Get-Item | Format-List',
    () => `Get-ChildItem ${dir}; Get-Item ${join(dir, 'a.txt')} | Format-List Name, Length`,
  ],
  [
    'Format-Table, Format-List, Format-Wide, hashtables, booleans',
    () =>
      '1..3 | ForEach-Object { [pscustomobject]@{ N = $_; Square = $_ * $_ } } | Format-Table; ' +
      '[pscustomobject]@{ Name = "x"; Count = 3 } | Format-List; @{ b = 2 }; $true; $false; ' +
      '"alpha", "beta", "gamma", "delta" | Format-Wide -Column 3; [pscustomobject]@{ flag = $true; list = 1, 2, 3, 4, 5 }',
  ],
  [
    'custom objects wider than the screen, nested values, a table of many objects',
    () =>
      '[pscustomobject]@{ a = "x" * 150; b = "y" * 150; c = 1 }; [pscustomobject]@{ p = 1; q = [pscustomobject]@{ r = 2 } } | ' +
      'Format-List; ' +
      '1..25 | ForEach-Object { [pscustomobject]@{ Id = $_; Name = "item$_"; Even = $_ % 2 -eq 0 } }',
  ],
  [
    "Get-Date in the culture's format, Get-Process | Select-Object",
    () =>
      "Get-Date -Date '2024-01-02T03:04:05'; [datetime]'2024-05-06' | Format-List Year, Month, DayOfWeek; Get-Process | " +
      'Where-Object Id -eq 1 | Select-Object Id, ProcessName',
  ],
  [
    "errors: the error view on stderr, a native program's stderr, output in between, a terminating throw at the end",
    () =>
      'Write-Error boom; "after"; sh -c \'echo native-err >&2; echo native-out\'; Get-Item /no/such/file; 1/0; ' +
      'Get-NoSuchCommand; [pscustomobject]@{ k = 1 } | Format-List; throw "bad"',
  ],
];

for (const [name, script] of CORPUS) {
  test(`formatted like pwsh -c: ${name}`, { skip }, async () => {
    const s = script();
    const [want, got] = await Promise.all([
      pwshC(s),
      runCli(['ps', '--local', '--pwsh', pwsh!, '-c', s], { env: env(), timeoutMs: 180_000 }),
    ]);
    assert.equal(stripAnsi(got.stdout), stripAnsi(want.stdout), `stdout differs\nstderr: ${got.stderr}`);
    assert.equal(stripAnsi(got.stderr), stripAnsi(want.stderr), 'stderr differs');
    assert.equal(got.code === 0, want.stderr === '', `exit ${got.code} with stderr ${JSON.stringify(got.stderr)}`);
  });
}

test('output streams line by line (the second line is written only after the first one was read)', { skip }, async () => {
  const flag = join(dir, 'go');
  const child = spawn(
    process.execPath,
    cliArgv([
      'ps',
      '--local',
      '--pwsh',
      pwsh!,
      '-c',
      `[pscustomobject]@{ Phase = 'first' } | Format-List; while (-not (Test-Path '${flag}')) { Start-Sleep -Milliseconds 50 }; 'second'`,
    ]),
    { stdio: ['ignore', 'pipe', 'pipe'], env: env() },
  );
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const closed = new Promise<number | null>((r) => child.on('close', r));
  const guard = setTimeout(() => child.kill('SIGKILL'), 150_000);
  await new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (/Phase : first/.test(out) && !existsSync(flag)) {
        assert.doesNotMatch(out, /second/);
        writeFileSync(flag, '');
        resolve();
      }
    });
    void closed.then(() => resolve());
  });
  const code = await closed;
  clearTimeout(guard);
  assert.equal(code, 0, err);
  assert.match(out, /Phase : first[\s\S]*second/);
});

test('param() with -c arguments, exit N, and --json unchanged (NDJSON objects)', { skip }, async () => {
  const r = await runCli(['ps', '--local', '--pwsh', pwsh!, '-c', 'param($x) "x=$x"; exit 4', '--', 'five'], {
    env: env(),
    timeoutMs: 180_000,
  });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stdout, 'x=five\n');
  const j = await runCli(
    [
      'ps',
      '--local',
      '--pwsh',
      pwsh!,
      '--json',
      '-c',
      '[pscustomobject]@{ a = 1; b = @(1, 2) }; Get-Date -Date "2024-01-02T03:04:05Z" -AsUTC | Select-Object Year',
    ],
    { env: env(), timeoutMs: 180_000 },
  );
  assert.equal(j.code, 0, j.stderr);
  assert.deepEqual(
    j.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    [{ a: 1, b: [1, 2] }, { Year: 2024 }],
  );
});

test("piped: no escape sequences, neither the formatter's nor the script's own", { skip }, async () => {
  const r = await runCli(['ps', '--local', '--pwsh', pwsh!, '-c', '[pscustomobject]@{ a = 1 }; Write-Error e1; "`e[31mred`e[0m"'], {
    env: { ...process.env, NO_COLOR: '' },
    timeoutMs: 180_000,
  });
  assert.equal(r.code, 1);
  assert.ok(!r.stdout.includes('\x1b') && !r.stderr.includes('\x1b'), JSON.stringify(r));
  assert.match(r.stdout, /red/);
});

test('over WinRM (Negotiate, sealed): the same text as pwsh -c, also over many hosts', { skip }, async () => {
  const psrp = new PsrpEndpoint({ pwsh });
  const ep = await startEndpoint({ auth: ['negotiate'], allowUnencrypted: false, resources: psrp.resources() });
  try {
    const s = CORPUS[1]![1]() + '; Get-Item /no/such/file';
    const [want, got] = await Promise.all([
      pwshC(s),
      runCli(['ps', '-H', `127.0.0.1:${ep.port}`, '-u', USER, '-c', s], {
        env: { ...env(), WINRM_PASSWORD: PASSWORD },
        timeoutMs: 180_000,
      }),
    ]);
    assert.equal(stripAnsi(got.stdout), stripAnsi(want.stdout), got.stderr);
    assert.equal(stripAnsi(got.stderr), stripAnsi(want.stderr));
    assert.equal(got.code, 1);
    // many hosts (two names of this endpoint): each host's lines, formatted by its PowerShell, prefixed with [host]
    const hosts = [`127.0.0.1:${ep.port}`, `localhost:${ep.port}`];
    const fan = await runCli(['ps', '-H', hosts.join(','), '-u', USER, '-c', CORPUS[1]![1]()], {
      env: { ...env(), WINRM_PASSWORD: PASSWORD },
      timeoutMs: 180_000,
    });
    assert.equal(fan.code, 0, fan.stderr);
    const trim = (ls: string[]) => {
      const a = [...ls];
      while (a.length && !a[0]!.trim()) a.shift();
      while (a.length && !a[a.length - 1]!.trim()) a.pop();
      return a.map((l) => l.trimEnd());
    };
    const expected = trim(stripAnsi(want.stdout).split('\n'));
    for (const h of hosts) {
      const mine = fan.stdout
        .split('\n')
        .filter((l) => l.startsWith(`[${h}] `))
        .map((l) => l.slice(h.length + 3));
      assert.deepEqual(trim(mine), expected, fan.stdout);
    }
  } finally {
    await psrp.close();
    await ep.close();
  }
});
