// `winrm-ts shell` driven in tmux as a person uses Enter-PSSession, over WinRM to our endpoint and real pwsh
// (Negotiate, then CredSSP), and over --local: the remote prompt with the host and path, a command, Tab completion,
// Read-Host, Read-Host -AsSecureString and Get-Credential (not echoed), PromptForChoice, Ctrl+C in a loop keeps the
// session, Ctrl+C at
// a prompt drops the line, Write-Progress drawn and cleared, multi-line input, the history file (mode 600) read by the
// next shell, exit / exit N / Ctrl+D. A password prompted at start leaves stdin working (`run -- cat`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { cliArgv, runCli } from '../helpers/cli.js';
import { findPwsh, peerSkip, PROJECT_ROOT } from '../helpers/peers.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { startTerminal, tmuxPresent, type Terminal } from '../helpers/tmux.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh) || peerSkip('tmux', tmuxPresent(), 'apt-get install tmux (scripts/peers-install.sh)');
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const cli = (args: string[]) => [process.execPath, ...cliArgv(args)].map(q).join(' ');
/** the last line on the screen is a prompt (tmux drops trailing spaces) */
const PROMPT = /\[127\.0\.0\.1\]: PS [^\n]*>\s*$/;

let ps: PsrpEndpoint;
let ep: Awaited<ReturnType<typeof startEndpoint>>;
let dir: string;
const terms: Terminal[] = [];
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-shell-'));
  ps = new PsrpEndpoint({ pwsh });
  ep = await startEndpoint({ auth: ['negotiate', 'credssp'], allowUnencrypted: false, resources: ps.resources() });
});
after(async () => {
  for (const t of terms) t.close();
  if (skip) return;
  await ps.close();
  await ep.close();
  rmSync(dir, { recursive: true, force: true });
});

function shell(args: string[], env: NodeJS.ProcessEnv = {}): Terminal {
  const t = startTerminal(cli(['shell', ...args]), {
    cwd: PROJECT_ROOT,
    env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '', ...env },
  });
  terms.push(t);
  return t;
}
/** The command ended: a fresh prompt is the last line. */
const idle = (t: Terminal) => t.waitFor(PROMPT);

test(
  'shell over WinRM (Negotiate): prompt, command, Tab, Read-Host, secret, choice, Ctrl+C, progress, multi-line, history, exit',
  { skip, timeout: 240_000 },
  async () => {
    const t = shell(['-H', `127.0.0.1:${ep.port}`, '-u', USER], { WINRM_PASSWORD: PASSWORD });
    await t.waitFor(/^\[127\.0\.0\.1\]: PS \/[^\n]*>\s*$/m);
    t.type('21*2');
    t.send('Enter');
    await t.waitFor(/^42$/m);
    await idle(t);
    // colours on a terminal: Write-Host's, and errors in red
    t.type('Write-Host -ForegroundColor Green green-text; Write-Error red-text');
    t.send('Enter');
    await t.waitFor(/^Write-Error: red-text$/m);
    assert.match(t.screenWithColors(), /\x1b\[92mgreen-text/);
    assert.match(t.screenWithColors(), /\x1b\[91mWrite-Error: red-text/);
    await idle(t);

    // Tab: the remote completes the command name (in PowerShell's case)
    t.type('get-childi');
    t.send('Tab');
    await t.waitFor(/> Get-ChildItem$/m);
    t.type(` ${q(join(PROJECT_ROOT, 'scripts'))} | Select-Object -First 1 Name`);
    t.send('Enter');
    await t.waitFor(/^Name\n----\n\S+/m);
    await idle(t);

    // Read-Host, then a secret that is not echoed, then PromptForChoice
    t.type('$n = Read-Host "Your name"; "hi $n!"');
    t.send('Enter');
    await t.waitFor(/Your name:\s*$/);
    t.type('Zed');
    t.send('Enter');
    await t.waitFor(/^hi Zed!$/m);
    await idle(t);
    t.type('$s = Read-Host "Secret" -AsSecureString; "length " + [Net.NetworkCredential]::new("", $s).Password.Length');
    t.send('Enter');
    await t.waitFor(/Secret:\s*$/);
    t.type('hunter2-xyz');
    t.send('Enter');
    await t.waitFor(/^length 11$/m);
    assert.ok(!t.screen().includes('hunter2-xyz'), 'the secret is not echoed');
    await idle(t);
    t.type(
      '$c = $host.UI.PromptForChoice("Deploy", "Go on?", [System.Management.Automation.Host.ChoiceDescription[]]@("&Yes", ' +
        '"&No"), 1); "choice $c"',
    );
    t.send('Enter');
    await t.waitFor(/^\[Y\] Yes {2}\[N\] No {2}\[\?\] Help \(default is "N"\):\s*$/m);
    t.type('y');
    t.send('Enter');
    await t.waitFor(/^choice 0$/m);
    await idle(t);
    t.type('$c = Get-Credential; "cred " + $c.UserName + " " + $c.GetNetworkCredential().Password.Length');
    t.send('Enter');
    await t.waitFor(/^User:\s*$/m);
    t.type('bob');
    t.send('Enter');
    await t.waitFor(/^Password for user bob:\s*$/m);
    t.type('cred-Secret-9');
    t.send('Enter');
    await t.waitFor(/^cred bob 13$/m);
    assert.ok(!t.screen().includes('cred-Secret-9'), 'the credential password is not echoed');
    await idle(t);

    // Ctrl+C stops a loop (twice) and the session goes on with its state
    for (const i of [1, 2]) {
      t.type(`$kept = ${i}; "loop ${i} started"; while ($true) { Start-Sleep -Milliseconds 100 }`);
      t.send('Enter');
      await t.waitFor(new RegExp(`^loop ${i} started$`, 'm'));
      t.send('C-c');
      await idle(t);
    }
    t.type('"kept " + $kept');
    t.send('Enter');
    await t.waitFor(/^kept 2$/m);
    await idle(t);
    // Ctrl+C at a prompt drops the typed text
    t.type('"never run"');
    t.send('C-c');
    await t.waitFor(/> "never run"\^C\n\[127\.0\.0\.1\]: PS [^\n]*>\s*$/);
    t.send('Enter');
    await t.waitFor(/> "never run"\^C\n\[127\.0\.0\.1\]: PS [^\n]*>\s*\n\[127\.0\.0\.1\]: PS [^\n]*>\s*$/);

    // Write-Progress: drawn while the command runs (it waits for a file this test creates), cleared after
    const gate = join(dir, 'gate');
    t.type(
      `Write-Progress -Activity Copying -Status "file 3" -PercentComplete 60; while (-not (Test-Path ${q(gate)})) { Start-Sleep ` +
        `-Milliseconds 100 }; "copied"`,
    );
    t.send('Enter');
    await t.waitFor(/^Copying \[o+ +\] 60% file 3/m);
    writeFileSync(gate, '');
    await t.waitFor(/^copied$/m);
    await idle(t);
    assert.doesNotMatch(t.screen(), /^Copying \[/m, 'the progress bar is cleared');

    // multi-line: an open brace continues with ">> "
    t.type('function Get-Twice($x) {');
    t.send('Enter');
    await t.waitFor(/^>>\s*$/m);
    t.type('  $x * 2');
    t.send('Enter');
    t.type('}');
    t.send('Enter');
    await idle(t);
    t.type('Get-Twice 2100');
    t.send('Enter');
    await t.waitFor(/^4200$/m);

    t.type('exit');
    t.send('Enter');
    await t.waitFor(/^EXITED 0$/m);

    // the history: one file for the host, mode 600, read by the next shell (Up shows the last command)
    const file = join(dir, 'config', 'winrm-ts', 'history', `127.0.0.1_${ep.port}`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const saved = readFileSync(file, 'utf8');
    assert.match(saved, /^21\*2$/m);
    assert.match(saved, /^Get-Twice 2100$/m);
    assert.ok(
      !saved.includes('hunter2-xyz') && !saved.includes('Zed\n') && !saved.includes('never run'),
      'answers and dropped lines stay out of the history',
    );
    const again = shell(['-H', `127.0.0.1:${ep.port}`, '-u', USER], { WINRM_PASSWORD: PASSWORD });
    await again.waitFor(PROMPT);
    again.send('Up');
    again.send('Up');
    await again.waitFor(/> Get-Twice 2100$/m);
    again.send('C-c'); // Ctrl+D leaves only at an empty line
    await again.waitFor(PROMPT);
    again.send('C-d');
    await again.waitFor(/^EXITED 0$/m);
  },
);

test(
  'shell over WinRM with CredSSP: the delegated logon answers; NO_COLOR; `exit 3` leaves with 3',
  { skip, timeout: 180_000 },
  async () => {
    const t = shell(['-H', `127.0.0.1:${ep.port}`, '-u', USER, '--auth', 'credssp', '--delegate-to', 'wsman/127.0.0.1', '--no-history'], {
      WINRM_PASSWORD: PASSWORD,
      NO_COLOR: '1',
    });
    await t.waitFor(PROMPT);
    t.type('"credssp " + (1 + 1); Write-Host -ForegroundColor Green plain; Get-Item /nope');
    t.send('Enter');
    await t.waitFor(/^credssp 2\nplain\nGet-Item: Cannot find path/m);
    assert.doesNotMatch(t.screenWithColors(), /\x1b\[(?!0?m|39m|49m)[0-9;]*m/, 'NO_COLOR: no colours');
    assert.ok(
      ep.lines.some((l) => /auth ok EXAMPLE\\alice via credssp/.test(l)),
      ep.lines.join('\n'),
    );
    t.type('exit 3');
    t.send('Enter');
    await t.waitFor(/^EXITED 3$/m);
  },
);

test('shell --local without a terminal: lines from stdin, errors formatted by PowerShell, exit N', { skip, timeout: 180_000 }, async () => {
  const r = await runCli(['shell', '--local', '--pwsh', pwsh!, '--no-history'], {
    input: '1+1\nGet-Item /no/such/path\nthrow "boom"\n)\nif ($true) {\n"in block"\n}\nexit 4\n',
    timeoutMs: 170_000,
  });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stdout, /^\[localhost\]: PS [^\n]*> 1\+1$/m);
  assert.match(r.stdout, /^2$/m);
  assert.match(r.stdout, /^in block$/m);
  // PowerShell's error view (ConciseView), for errors written and thrown alike, on stderr
  assert.match(r.stderr, /^Get-Item: Cannot find path '\/no\/such\/path' because it does not exist\.$/m);
  assert.match(r.stderr, /^Exception: boom$/m);
  assert.match(r.stderr, /^ParserError: *\nLine \|\n {3}1 \| {2}\)\n/m);
  assert.doesNotMatch(r.stdout + r.stderr, /\x1b\[/, 'no colours without a terminal');
});

test('run: a password typed at the prompt leaves stdin to the command (`run -- cat`)', { skip, timeout: 120_000 }, async () => {
  const env = { ...process.env };
  delete env.WINRM_PASSWORD;
  const t = startTerminal(cli(['run', '-H', `127.0.0.1:${ep.port}`, '-u', USER, '--', 'cat']), { cwd: PROJECT_ROOT, env });
  terms.push(t);
  await t.waitFor(/Password for EXAMPLE\\alice:\s*$/);
  t.type(PASSWORD);
  t.send('Enter');
  t.type('typed after the prompt');
  t.send('Enter');
  // once from the terminal's echo, once back from the remote cat
  await t.waitFor(/^typed after the prompt\n(?:[^\n]*\n)?typed after the prompt$/m);
  t.send('C-d');
  await t.waitFor(/^EXITED 0$/m);
  assert.ok(!t.screen().includes(PASSWORD), 'the password is not echoed');
});
