// `ps` arguments and input as pwsh takes them, end to end against the real pwsh: pwsh -File binding (named,
// switches, positional, strings unless the parameter types convert), -c arguments (-ArgumentList), stdin lines as
// $input (streamed: a line is processed before stdin ends), --input-json objects, Read-Host still answered from
// stdin when the script does not read input, and command mode (--cmd/--param) on a NoLanguage endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv, runCli } from '../helpers/cli.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { loadSessionConfigs } from '../../src/index.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);
let dir: string;
const ps = (args: string[], input?: string) => runCli(['ps', '--local', '--pwsh', pwsh!, ...args], { input, timeoutMs: 180_000 });
const lines = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean);

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-args-'));
  writeFileSync(
    join(dir, 's.ps1'),
    [
      'param([string]$Name, [int]$Count = 1, [switch]$Loud, $Raw)',
      '1..$Count | ForEach-Object { $m = "hello $Name $_"; if ($Loud) { $m.ToUpper() } else { $m } }',
      'if ($null -ne $Raw) { "raw is $($Raw.GetType().Name) $Raw" }',
      'if ($args.Count) { "args: $($args -join \',\')" }',
    ].join('\n'),
  );
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('-f FILE -- named parameters, a switch, positional values; strings stay strings unless typed', { skip }, async () => {
  const f = join(dir, 's.ps1');
  const named = await ps(['-f', f, '--', '-Name', 'world', '-Count', '3', '-Loud', '-Raw', '42']);
  assert.equal(named.code, 0, named.stderr);
  assert.deepEqual(lines(named.stdout), ['HELLO WORLD 1', 'HELLO WORLD 2', 'HELLO WORLD 3', 'raw is String 42']);
  const positional = await ps(['-f', f, '--', 'there', '2']);
  assert.deepEqual(lines(positional.stdout), ['hello there 1', 'hello there 2'], positional.stderr);
  // a switch takes no value: the next token binds by position, as with pwsh -File; -Name:value and prefixes work
  const mixed = await ps(['-f', f, '--', '-Loud', 'x', '-Cou:2', '-Raw:007']);
  assert.deepEqual(lines(mixed.stdout), ['HELLO X 1', 'HELLO X 2', 'raw is String 007'], mixed.stderr);
  const bad = await ps(['-f', f, '--', '-Count', 'many']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Count/);
});

test('-c SCRIPT -- ARGS: the arguments of the script block, numbers as numbers (as -ArgumentList)', { skip }, async () => {
  const r = await ps(['-c', 'param($a, $b) $a * $b; $a.GetType().Name', '--', '6', '7']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), ['42', 'Int32']);
  const named = await ps([
    '-c',
    'param($Greeting, [switch]$Shout) if ($Shout) { $Greeting.ToUpper() } else { $Greeting }',
    '--',
    '-Shout',
    '-Greeting',
    'hi there',
  ]);
  assert.deepEqual(lines(named.stdout), ['HI THERE'], named.stderr);
});

test('stdin lines are $input, streamed: the first line is answered before stdin ends', { skip }, async () => {
  const child = spawn(process.execPath, cliArgv(['ps', '--local', '--pwsh', pwsh!, '-c', '$input | ForEach-Object { "got $_" }']), {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const closed = new Promise<number | null>((r) => child.on('close', r));
  const guard = setTimeout(() => child.kill('SIGKILL'), 150_000);
  child.stdin.write('x\n');
  await new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('got x')) resolve();
    });
    void closed.then(() => resolve());
  });
  assert.match(out, /got x/, err);
  child.stdin.end('y\n');
  const code = await closed;
  clearTimeout(guard);
  assert.equal(code, 0, err);
  assert.deepEqual(lines(out), ['got x', 'got y']);
});

test('stdin to a process block; --input-json objects; Read-Host still reads stdin when the script takes no input', { skip }, async () => {
  const proc = await ps(['-c', 'process { "[$_]" }'], 'a\nb c\n');
  assert.deepEqual(lines(proc.stdout), ['[a]', '[b c]'], proc.stderr);
  const j = await ps(
    ['--input-json', '-c', '$input | Sort-Object n -Descending | ForEach-Object { "$($_.n):$($_.tag.name)" }'],
    '{"n":1,"tag":{"name":"one"}}\n{"n":2,"tag":{"name":"two"}}\n',
  );
  assert.deepEqual(lines(j.stdout), ['2:two', '1:one'], j.stderr);
  const doc = await ps(
    ['--input-json', '--json', '-c', '$input | Measure-Object -Property v -Sum | Select-Object Count, Sum'],
    '[\n {"v": 2},\n {"v": 5}\n]\n',
  );
  assert.deepEqual(JSON.parse(doc.stdout), { Count: 2, Sum: 7 }, doc.stderr);
  const rh = await ps(['-c', '$n = Read-Host "name"; "hi $n"'], 'alice\n');
  assert.equal(rh.code, 0, rh.stderr);
  assert.equal(lines(rh.stdout).pop(), 'hi alice');
  const forced = await ps(['--input-lines', '-c', '@($input).Count'], '1\n2\n3\n');
  assert.deepEqual(lines(forced.stdout), ['3'], forced.stderr);
});

test('command mode: --cmd NAME --param K=V on a NoLanguage (JEA-like) endpoint, where scripts are refused', { skip }, async () => {
  const file = join(dir, 'configs.json');
  writeFileSync(file, JSON.stringify([{ name: 'JEARole', visibleCommands: ['Get-Date', 'Measure-Object'], language: 'NoLanguage' }]));
  const psrp = new PsrpEndpoint({ pwsh, configurations: loadSessionConfigs(file) });
  const ep = await startEndpoint({ auth: ['negotiate'], allowUnencrypted: false, resources: psrp.resources() });
  try {
    const base = ['ps', '-H', `127.0.0.1:${ep.port}`, '-u', USER, '--configuration-name', 'JEARole'];
    const env = { ...process.env, WINRM_PASSWORD: PASSWORD };
    const ok = await runCli([...base, '--cmd', 'Get-Date', '--param', 'Date=2024-01-02T03:04:05', '--param', 'Format=yyyy-MM-dd HH:mm'], {
      env,
      timeoutMs: 180_000,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), '2024-01-02 03:04');
    // pipeline input and the formatter (Out-Default is visible on a restricted endpoint)
    const measured = await runCli([...base, '--cmd', 'Measure-Object', '--input-lines'], { env, input: 'a\nb\nc\n', timeoutMs: 180_000 });
    assert.equal(measured.code, 0, measured.stderr);
    assert.match(measured.stdout, /Count\s*:\s*3/);
    const script = await runCli([...base, '-c', 'Get-Date'], { env, timeoutMs: 180_000 });
    assert.notEqual(script.code, 0);
    assert.match(script.stderr, /language mode|no-language/i);
    const hidden = await runCli([...base, '--cmd', 'Get-ChildItem'], { env, timeoutMs: 180_000 });
    assert.notEqual(hidden.code, 0);
    assert.match(hidden.stderr, /Get-ChildItem/);
  } finally {
    await psrp.close();
    await ep.close();
  }
});

test('bad usage: two modes, --param without --cmd, a script as --cmd', async () => {
  for (const [args, re] of [
    [['-c', '1', '--cmd', 'Get-Date'], /exactly one of -c SCRIPT, -f FILE or --cmd NAME/],
    [['-c', '1', '--param', 'A=1'], /--param goes with --cmd/],
    [['--cmd', 'Get-Date; rm x'], /command name/],
  ] as Array<[string[], RegExp]>) {
    const r = await runCli(['ps', '--local', ...args]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, re);
  }
});
