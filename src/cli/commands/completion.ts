/**
 * `winrm-ts completion bash|zsh|fish|powershell`: print a shell completion script. The scripts are generated from
 * the commander program itself (every command module registered into a fresh program: commands, their options,
 * which options take a value, a value's choices, and file-valued options), so they never drift from `--help`.
 *
 *   eval "$(winrm-ts completion bash)"                      # ~/.bashrc
 *   winrm-ts completion zsh > "${fpath[1]}/_winrm-ts"       # or: source <(winrm-ts completion zsh)
 *   winrm-ts completion fish > ~/.config/fish/completions/winrm-ts.fish
 *   winrm-ts completion powershell | Out-String | Invoke-Expression   # $PROFILE
 */
import { Argument, Command, type Option } from 'commander';

/** The CLI's command table (src/cli/commands/index.ts hands it in: importing it here would make a cycle). */
export type CommandTable = Record<string, () => Promise<{ register: (program: Command) => void }>>;

export const SHELLS = ['bash', 'zsh', 'fish', 'powershell'] as const;
export type Shell = (typeof SHELLS)[number];

export interface OptionModel {
  short?: string;
  long?: string;
  description: string;
  takesValue: boolean;
  choices?: string[];
  file: boolean;
}
export interface CommandModel {
  name: string;
  description: string;
  options: OptionModel[];
  takesArgs: boolean;
  argChoices?: string[];
}
export interface ProgramModel {
  name: string;
  options: OptionModel[];
  commands: CommandModel[];
}

/** The `completion` command, generating from every command of `table`. */
export function withCommands(table: CommandTable): { register: (program: Command) => void } {
  return { register: (program) => register(program, table) };
}

function register(program: Command, table: CommandTable): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh, fish, powershell)')
    .addArgument(new Argument('<shell>', 'the shell').choices([...SHELLS]))
    .addHelpText(
      'after',
      `
Install:
  bash        eval "$(winrm-ts completion bash)"            (in ~/.bashrc)
  zsh         source <(winrm-ts completion zsh)             (in ~/.zshrc, after compinit)
  fish        winrm-ts completion fish > ~/.config/fish/completions/winrm-ts.fish
  powershell  winrm-ts completion powershell | Out-String | Invoke-Expression   (in $PROFILE)`,
    )
    .action(async (shell: Shell) => {
      process.stdout.write(completionScript(shell, await programModel(table, program.name())));
    });
}

/** Every command module registered into a fresh program (the running one holds only the command it was asked for). */
export async function programModel(table: CommandTable, name = 'winrm-ts'): Promise<ProgramModel> {
  const p = new Command().name(name).version('0.0.0');
  for (const load of Object.values(table)) (await load()).register(p);
  const visible = p.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
  return {
    name,
    options: [...p.options.map(optionModel), HELP],
    commands: visible.map((c) => ({
      name: c.name(),
      description: c.description(),
      options: [...c.options.filter((o) => !o.hidden).map(optionModel), HELP],
      takesArgs: c.registeredArguments.length > 0,
      argChoices: c.registeredArguments[0]?.argChoices,
    })),
  };
}

const HELP: OptionModel = { short: '-h', long: '--help', description: 'display help for command', takesValue: false, file: false };

function optionModel(o: Option): OptionModel {
  const takesValue = o.required || o.optional;
  // choices: declared ones, else a description that starts with "a | b | c"
  const listed = /^([\w.-]+(?: \| [\w.-]+)+)/.exec(o.description)?.[1]?.split(' | ');
  const choices = o.argChoices ?? (takesValue ? listed : undefined);
  const file = takesValue && !choices && /<[^>]*(file|\.ps1|keytab|pem|crt|cert|key)[^>]*>/i.test(o.flags);
  return { short: o.short, long: o.long, description: o.description, takesValue, choices, file };
}

export function completionScript(shell: Shell, m: ProgramModel): string {
  switch (shell) {
    case 'bash':
      return bash(m);
    case 'zsh':
      return zsh(m);
    case 'fish':
      return fish(m);
    case 'powershell':
      return powershell(m);
  }
}

const names = (o: OptionModel) => [o.short, o.long].filter((x): x is string => !!x);
const fnName = (m: ProgramModel) => `_${m.name.replace(/[^\w]/g, '_')}`;
/** A word inside a single-quoted POSIX shell string. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

function bash(m: ProgramModel): string {
  const fn = fnName(m);
  const cases = m.commands.map((c) => {
    const valued = c.options.filter((o) => o.takesValue);
    const prevCases = [
      ...valued
        .filter((o) => o.choices)
        .map((o) => `        ${names(o).join('|')}) COMPREPLY=( $(compgen -W ${sq(o.choices!.join(' '))} -- "$cur") ); return ;;`),
      ...valued.filter((o) => o.file).map((o) => `        ${names(o).join('|')}) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;`),
      ...(valued.filter((o) => !o.choices && !o.file).length
        ? [
            `        ${valued
              .filter((o) => !o.choices && !o.file)
              .flatMap(names)
              .join('|')}) return ;;`,
          ]
        : []),
    ];
    return [
      `    ${c.name})`,
      ...(prevCases.length ? ['      case "$prev" in', ...prevCases, '      esac'] : []),
      `      if [[ $cur == -* ]]; then COMPREPLY=( $(compgen -W ${sq(c.options.flatMap(names).join(' '))} -- "$cur") )` +
        (c.argChoices ? `\n      else COMPREPLY=( $(compgen -W ${sq(c.argChoices.join(' '))} -- "$cur") )` : '') +
        '; fi',
      '      ;;',
    ].join('\n');
  });
  return `# bash completion for ${m.name} (generated by \`${m.name} completion bash\`)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  COMPREPLY=()
  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then COMPREPLY=( $(compgen -W ${sq(m.options.flatMap(names).join(' '))} -- "$cur") )
    else COMPREPLY=( $(compgen -W ${sq(m.commands.map((c) => c.name).join(' '))} -- "$cur") ); fi
    return
  fi
  case "$cmd" in
${cases.join('\n')}
  esac
}
complete -o default -F ${fn} ${m.name}
`;
}

/** Text inside a zsh _arguments description ([...]) in a single-quoted word. */
const zdesc = (s: string) =>
  oneLine(s)
    .replace(/\\/g, '\\\\')
    .replace(/[[\]]/g, (b) => (b === '[' ? '(' : ')'))
    .replace(/:/g, '\\:')
    .replace(/'/g, `'\\''`);

function zsh(m: ProgramModel): string {
  const fn = fnName(m);
  const spec = (o: OptionModel) =>
    names(o).map((n) => {
      const action = !o.takesValue ? '' : o.choices ? `:value:(${o.choices.join(' ')})` : o.file ? ':file:_files' : ':value: ';
      return `'*${n}[${zdesc(o.description)}]${action.replace(/'/g, `'\\''`)}'`;
    });
  const cases = m.commands.map((c) =>
    [
      `    (${c.name})`,
      `      _arguments -S \\`,
      ...c.options.flatMap(spec).map((s) => `        ${s} \\`),
      `        ${c.argChoices ? `'1:argument:(${c.argChoices.join(' ')})'` : c.takesArgs ? `'*:argument:_files'` : `'*::'`}`,
      '      ;;',
    ].join('\n'),
  );
  return `#compdef ${m.name}
# zsh completion for ${m.name} (generated by \`${m.name} completion zsh\`)
${fn}() {
  local -a cmds
  cmds=(
${m.commands.map((c) => `    ${sq(`${c.name}:${oneLine(c.description).replace(/:/g, '\\:')}`)}`).join('\n')}
  )
  if (( CURRENT == 2 )); then
    if [[ $words[CURRENT] == -* ]]; then _arguments ${m.options.flatMap(spec).join(' ')}; \
else _describe -t commands '${m.name} command' cmds; fi
    return
  fi
  local cmd=$words[2]
  shift words; (( CURRENT-- ))
  case $cmd in
${cases.join('\n')}
  esac
}
if [[ $funcstack[1] == ${fn} ]]; then ${fn} "$@"; else compdef ${fn} ${m.name}; fi
`;
}

/** A word in fish single quotes. */
const fq = (s: string) => `'${oneLine(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fish(m: ProgramModel): string {
  const out = [`# fish completion for ${m.name} (generated by \`${m.name} completion fish\`)`, `complete -c ${m.name} -f`];
  const opt = (cond: string, o: OptionModel) => {
    const parts = [`complete -c ${m.name} -n ${fq(cond)}`];
    if (o.short) parts.push(`-s ${o.short.slice(1)}`);
    if (o.long) parts.push(`-l ${o.long.slice(2)}`);
    if (o.takesValue) parts.push(o.choices ? `-x -a ${fq(o.choices.join(' '))}` : o.file ? '-r -F' : '-x');
    parts.push(`-d ${fq(o.description)}`);
    return parts.join(' ');
  };
  for (const o of m.options) out.push(opt('__fish_use_subcommand', o));
  for (const c of m.commands) out.push(`complete -c ${m.name} -n '__fish_use_subcommand' -a ${c.name} -d ${fq(c.description)}`);
  for (const c of m.commands) {
    const cond = `__fish_seen_subcommand_from ${c.name}`;
    for (const o of c.options) out.push(opt(cond, o));
    if (c.argChoices) out.push(`complete -c ${m.name} -n ${fq(cond)} -a ${fq(c.argChoices.join(' '))}`);
    else if (c.takesArgs) out.push(`complete -c ${m.name} -n ${fq(cond)} -F`);
  }
  return out.join('\n') + '\n';
}

/** A PowerShell single-quoted string. */
const pq = (s: string) => `'${oneLine(s).replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;

function powershell(m: ProgramModel): string {
  const optTable = (os: OptionModel[]) =>
    `@(${os
      .flatMap((o) =>
        names(o).map((n) => `@(${pq(n)}, ${pq(o.description || n)}, $${o.takesValue}, @(${(o.choices ?? []).map(pq).join(', ')}))`),
      )
      .join(', ')})`;
  const psCommand = (c: ProgramModel['commands'][number]) =>
    `    ${pq(c.name)} = @{ Description = ${pq(c.description || c.name)}; ` +
    `Args = @(${(c.argChoices ?? []).map(pq).join(', ')}); Options = ${optTable(c.options)} }`;
  return `# PowerShell completion for ${m.name} (generated by \`${m.name} completion powershell\`)
Register-ArgumentCompleter -Native -CommandName ${pq(m.name)} -ScriptBlock {
  param($wordToComplete, $commandAst, $cursorPosition)
  $global = ${optTable(m.options)}
  $commands = [ordered]@{
${m.commands.map(psCommand).join('\n')}
  }
  $words = @($commandAst.CommandElements | Where-Object { $_.Extent.EndOffset -lt $cursorPosition } | ForEach-Object { $_.Extent.Text })
  $cmd = @($words | Select-Object -Skip 1 | Where-Object { $_ -notlike '-*' }) | Select-Object -First 1
  $result = { param($text, $kind, $tip) [System.Management.Automation.CompletionResult]::new($text, $text, $kind, $tip) }
  if (-not $cmd) {
    if ($wordToComplete -like '-*') { foreach ($o in $global) { \
if ($o[0] -like "$wordToComplete*") { & $result $o[0] 'ParameterName' $o[1] } } }
    else { foreach ($k in $commands.Keys) { if ($k -like "$wordToComplete*") { & $result $k 'Command' $commands[$k].Description } } }
    return
  }
  if (-not $commands.Contains($cmd)) { return }
  $options = $commands[$cmd].Options
  $prev = $words[-1]
  foreach ($o in $options) {
    if ($o[0] -eq $prev -and $o[2]) {
      foreach ($c in $o[3]) { if ($c -like "$wordToComplete*") { & $result $c 'ParameterValue' $c } }
      return
    }
  }
  if ($wordToComplete -like '-*') { foreach ($o in $options) { \
if ($o[0] -like "$wordToComplete*") { & $result $o[0] 'ParameterName' $o[1] } } }
  else { foreach ($a in $commands[$cmd].Args) { if ($a -like "$wordToComplete*") { & $result $a 'ParameterValue' $a } } }
}
`;
}
