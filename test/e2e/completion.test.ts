// `winrm-ts completion bash|zsh|fish|powershell`: each script parses in its shell, names every command of the
// program (derived from the commander program, not a list kept by hand), and completes for real: bash through
// its completion function, fish through `complete -C`, PowerShell through TabExpansion2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { findPwsh, hasCommand, peerSkip } from '../helpers/peers.js';
import { completionScript, programModel, SHELLS, type Shell } from '../../src/cli/commands/completion.js';
import { commands } from '../../src/cli/commands/index.js';

const withScript = async <T>(shell: Shell, f: (path: string) => T): Promise<T> => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-compl-'));
  try {
    const path = join(dir, `winrm-ts.${shell}`);
    writeFileSync(path, completionScript(shell, await programModel(commands)));
    return f(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test('the model has every command module, its options and their choices', async () => {
  const m = await programModel(commands);
  assert.deepEqual(m.commands.map((c) => c.name).sort(), Object.keys(commands).sort());
  const ps = m.commands.find((c) => c.name === 'ps')!;
  for (const o of ['--command', '--file', '--cmd', '--param', '--input-json', '--json', '--host', '--help'])
    assert.ok(
      ps.options.some((x) => x.long === o),
      o,
    );
  assert.deepEqual(ps.options.find((o) => o.long === '--encryption')!.choices, ['auto', 'always', 'never']);
  assert.ok(ps.options.find((o) => o.long === '--auth')!.choices!.includes('kerberos'));
  assert.equal(ps.options.find((o) => o.long === '--file')!.file, true);
  assert.deepEqual(m.commands.find((c) => c.name === 'completion')!.argChoices, [...SHELLS]);
});

test('the CLI prints each script and names every command in it; an unknown shell is refused', async () => {
  const m = await programModel(commands);
  for (const shell of SHELLS) {
    const r = await runCli(['completion', shell]);
    assert.equal(r.code, 0, r.stderr);
    for (const c of m.commands) assert.match(r.stdout, new RegExp(`\\b${c.name}\\b`), `${shell}: ${c.name}`);
  }
  const bad = await runCli(['completion', 'tcsh']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /bash, zsh, fish, powershell|Allowed choices/);
});

test('bash: parses (bash -n) and completes commands, options and choices', async () => {
  await withScript('bash', (path) => {
    execFileSync('bash', ['-n', path]);
    const complete = (line: string) =>
      execFileSync(
        'bash',
        [
          '-c',
          `source "$1"; read -ra COMP_WORDS <<< "$2"; [[ $2 == *' ' ]] && COMP_WORDS+=(''); COMP_CWORD=$(( \${#COMP_WORDS[@]} - ` +
            `1 )); _winrm_ts; echo "\${COMPREPLY[*]}"`,
          'x',
          path,
          line,
        ],
        { encoding: 'utf8' },
      ).trim();
    assert.equal(complete('winrm-ts p'), 'ps');
    assert.equal(complete('winrm-ts ps --input-j'), '--input-json');
    assert.equal(complete('winrm-ts run --encryption a'), 'auto always');
    assert.equal(complete('winrm-ts completion z'), 'zsh');
  });
});

test('zsh: parses (zsh -n)', { skip: peerSkip('zsh', hasCommand('zsh'), 'apt-get install zsh') }, async () => {
  await withScript('zsh', (path) => {
    execFileSync('zsh', ['-n', path]);
  });
});

test('fish: parses and completes (complete -C)', { skip: peerSkip('fish', hasCommand('fish'), 'apt-get install fish') }, async () => {
  await withScript('fish', (path) => {
    execFileSync('fish', ['--no-execute', path]);
    const complete = (line: string) =>
      execFileSync('fish', ['-c', `source $argv[1]; complete -C "$argv[2]"`, path, line], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((l) => l.split('\t')[0]);
    assert.deepEqual(complete('winrm-ts p'), ['ps']);
    assert.deepEqual(complete('winrm-ts ps --cm'), ['--cmd']);
    assert.deepEqual(complete('winrm-ts serve --cbt s'), ['strict']);
  });
});

test('powershell: parses and completes through TabExpansion2', { skip: peerSkip('pwsh', !!findPwsh()) }, async () => {
  await withScript('powershell', (path) => {
    const out = execFileSync(
      findPwsh()!,
      [
        '-NoProfile',
        '-NonInteractive',
        '-c',
        `
      $errs = $null; [void][System.Management.Automation.Language.Parser]::ParseFile('${path}', [ref]$null, [ref]$errs); \
"parse errors: $($errs.Count)"
      Get-Content -Raw '${path}' | Invoke-Expression
      foreach ($l in 'winrm-ts p', 'winrm-ts ps --input-j', 'winrm-ts ps --auth n', 'winrm-ts completion f') {
        ((TabExpansion2 -inputScript $l -cursorColumn $l.Length).CompletionMatches.CompletionText -join ' ')
      }`,
      ],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n');
    assert.deepEqual(out, ['parse errors: 0', 'ps', '--input-json', 'negotiate ntlm', 'fish']);
  });
});
