/** `winrm-ts ps --local` end to end against the real pwsh, as acceptance D1-local-ps runs it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { cliArgv, runCli } from '../helpers/cli.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);
const ps = (args: string[], input?: string) => runCli(['ps', '--local', '--pwsh', pwsh!, ...args], { input });

test('1+1 prints 2 on the last line, exit 0', { skip }, async () => {
  const r = await ps(['-c', '1+1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').pop(), '2');
});

test('errors go to stderr with a non-zero exit; output is kept', { skip }, async () => {
  const r = await ps(['-c', 'Write-Error boom; 5; Write-Warning careful']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /boom/);
  assert.match(r.stderr, /WARNING: careful/);
  assert.equal(r.stdout.trim(), '5');
});

test('a 20 kB script and --json objects', { skip }, async () => {
  const long = '$x = 0; '.repeat(2000) + '$x + 42';
  const r = await ps(['-c', long]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.split('\n').includes('42'));
  const j = await ps(['--json', '-c', '[pscustomobject]@{ a = 1; b = "x"; c = @(1,2) }; "s"']);
  assert.equal(j.code, 0, j.stderr);
  assert.deepEqual(
    j.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    [{ a: 1, b: 'x', c: [1, 2] }, 's'],
  );
});

test('-f FILE -- ARGS binds the param() block; exit N is the exit code', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-ps-'));
  try {
    const f = join(dir, 's.ps1');
    writeFileSync(f, 'param([string]$Name, [int]$Count = 1)\n1..$Count | ForEach-Object { "hello $Name $_" }\n');
    const r = await ps(['-f', f, '--', 'world', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['hello world 1', 'hello world 2', 'hello world 3']);
    const e = await ps(['-c', '"before"; exit 7']);
    assert.equal(e.code, 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Read-Host is answered from stdin by the CLI host', { skip }, async () => {
  const r = await ps(['-c', '$n = Read-Host "name"; "hi $n"'], 'alice\n');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').pop(), 'hi alice');
});

test('bad usage is a clear error', async () => {
  const r = await runCli(['ps', '-c', '1']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--local/);
});

test('booleans print as PowerShell prints them: True / False (also as property values)', { skip }, async () => {
  const script = '$true; $false; [pscustomobject]@{ flag = $true }';
  const r = await ps(['-c', script]);
  assert.equal(r.code, 0, r.stderr);
  const want = execFileSync(pwsh!, ['-NoProfile', '-NonInteractive', '-c', `$PSStyle.OutputRendering = 'PlainText'; ${script}`], {
    encoding: 'utf8',
  });
  assert.equal(r.stdout, want);
});

test('Ctrl+C stops the pipeline and says so once', { skip }, async () => {
  const child = spawn(
    process.execPath,
    cliArgv(['ps', '--local', '--pwsh', pwsh!, '-c', `'started'; while ($true) { Start-Sleep -Milliseconds 50 }`]),
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000); // a hang fails the test instead of holding it
  await new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.includes('started')) resolve();
    });
    void closed.then(() => resolve());
  });
  child.kill('SIGINT');
  const code = await closed;
  clearTimeout(guard);
  assert.match(stdout, /started/, stderr);
  assert.notEqual(code, 0);
  assert.equal(stderr.match(/the pipeline was stopped/g)?.length, 1, stderr);
});
