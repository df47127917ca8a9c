/**
 * Every process the endpoint starts for a logon (WinRS commands, pwsh) starts here, as sshd starts a session:
 *
 *  - as the logon's local account (src/server/accounts.ts): when that is not the endpoint's own account, through
 *    `setpriv --reuid --regid --init-groups` (util-linux; Node's spawn can set uid/gid but not the supplementary
 *    groups), with `--pdeathsig KILL` so that the process dies if the endpoint is killed outright;
 *  - with a clean environment built from the account, not the endpoint's: PATH, HOME, USER, LOGNAME, SHELL, the
 *    locale (LANG, LC_*) and TZ, plus what the caller adds (the client's variables, the logon's USERNAME / broker
 *    variables). Nothing else of the endpoint's environment (TERM, NODE_*, secrets...) reaches the child;
 *  - in its own process group (a new session), so the whole tree can be killed: WinRS kills a shell's groups when
 *    the shell is deleted or idles out, pwsh's group dies with pwsh, and every group still alive is killed when
 *    the endpoint exits.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { findSetpriv, ownAccount, type LocalAccount } from './accounts.js';
import type { LogonSession } from './logon.js';
import { spawnViaHelper, type LogonChild } from './spawn-helper.js';

export type { LogonChild } from './spawn-helper.js';

/** Locale and time zone: passed from the endpoint's environment, as sshd/PAM pass the system locale. */
const LOCALE_ENV = ['LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'LC_NUMERIC', 'LC_TIME', 'LC_COLLATE', 'LC_MONETARY', 'TZ'];
/** Set from the account, never passed through. */
const IDENTITY_ENV = new Set(['HOME', 'USER', 'LOGNAME', 'SHELL', 'PATH']);
/** sshd's default PATH for users and for root. */
export const USER_PATH = '/usr/local/bin:/usr/bin:/bin';
export const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The account a session's processes run as (the endpoint's own when the session names none). */
export function accountOf(session: LogonSession | undefined): LocalAccount {
  return session?.account ?? (own ??= ownAccount());
}
let own: LocalAccount | undefined;

/** PATH for the account: the endpoint's own PATH for its own account, sshd's default for another. */
export function accountPath(a: LocalAccount): string {
  if (a.own) return process.env.PATH ?? USER_PATH;
  return a.uid === 0 ? ROOT_PATH : USER_PATH;
}

/** The base environment of a process started for `account` (before the caller's additions). */
export function logonEnvironment(account: LocalAccount, passEnv: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  const pass = [...LOCALE_ENV, ...passEnv].filter((k) => !IDENTITY_ENV.has(k) && (account.own || k !== 'TMPDIR'));
  for (const k of pass) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  env.PATH = accountPath(account);
  env.HOME = account.own ? (process.env.HOME ?? account.home) : account.home;
  env.USER = account.name;
  env.LOGNAME = account.name;
  env.SHELL = account.shell;
  return env;
}

/** Send a signal to a whole process group; false when the group is gone. */
export function killGroup(pgid: number | undefined, sig: NodeJS.Signals | 0 = 'SIGKILL'): boolean {
  if (!pgid || pgid <= 1) return false;
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Process groups that belong together (one WinRS shell's commands): killed as one. */
export class ProcessGroups {
  private readonly ids = new Set<number>();
  add(pgid: number): void {
    this.ids.add(pgid);
  }
  forget(pgid: number): void {
    this.ids.delete(pgid);
  }
  get size(): number {
    return this.ids.size;
  }
  /** SIGKILL every group (e.g. the shell was deleted or idled out). */
  killAll(sig: NodeJS.Signals = 'SIGKILL'): void {
    for (const id of this.ids) {
      killGroup(id, sig);
      live.delete(id);
    }
    this.ids.clear();
  }
}

/** Every group this process started that may still have members: killed when the endpoint exits. */
const live = new Set<number>();
let exitHook = false;
function track(pgid: number): void {
  live.add(pgid);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const id of live) killGroup(id, 'SIGKILL');
      live.clear();
    });
  }
}
/** Process groups started by this process and possibly alive (tests). */
export function liveProcessGroups(): number[] {
  return [...live];
}
/** Kill every process group this process started (the endpoint is stopping). */
export function killAllProcessGroups(): void {
  for (const id of live) killGroup(id, 'SIGKILL');
  live.clear();
}

export interface LogonSpawnOptions {
  cwd?: string;
  /** added to the account's base environment (the client's variables, the logon's USERNAME, PATH with shims...) */
  env?: Record<string, string>;
  /** further names passed from the endpoint's environment (e.g. DOTNET_ROOT for pwsh) */
  passEnv?: readonly string[];
  /** the group the child's process group joins (killed together) */
  groups?: ProcessGroups;
  /** kill the child's whole process group as soon as the child itself exits (pwsh: its children die with it) */
  killGroupOnExit?: boolean;
}

let setprivPath: string | undefined;

/**
 * Start `file args` for the logon `session` (undefined: the endpoint's own account) with piped stdio, in a new
 * process group. Resolves once the process runs; rejects with the spawn error (`code` ENOENT when the
 * executable does not exist). The process is created by the spawn helper (src/server/spawn-helper.ts) when there
 * is one, so that the endpoint's event loop does not wait for a fork; else by Node's spawn.
 */
export async function spawnForLogon(
  session: LogonSession | undefined,
  file: string,
  args: readonly string[],
  o: LogonSpawnOptions = {},
): Promise<LogonChild> {
  const account = accountOf(session);
  const env = { ...logonEnvironment(account, o.passEnv), ...(o.env ?? {}) };
  let cmd = file;
  let argv = [...args];
  let cwd = o.cwd;
  if (!account.own) {
    setprivPath ??= findSetpriv();
    if (!setprivPath)
      throw Object.assign(new Error('setpriv (util-linux) is needed to run a logon as its account'), { code: 'ENOSETPRIV' });
    cwd ??= isDir(account.home) ? account.home : '/';
    if (!findExecutable(file, env.PATH ?? USER_PATH, cwd))
      throw Object.assign(new Error(`spawn ${file} ENOENT`), { code: 'ENOENT', path: file });
    cmd = setprivPath;
    argv = ['--reuid', String(account.uid), '--regid', String(account.gid), '--init-groups', '--pdeathsig', 'KILL', '--', file, ...args];
  }
  const child = (await spawnViaHelper([cmd, ...argv], cwd ?? process.cwd(), env)) ?? (await nodeSpawn(cmd, argv, cwd, env));
  const pgid = child.pid!;
  track(pgid);
  o.groups?.add(pgid);
  child.once('exit', () => {
    if (o.killGroupOnExit) killGroup(pgid, 'SIGKILL');
    // forget a group that has no member left (its number may be reused); a shell's groups are killed with it
    if (!killGroup(pgid, 0)) {
      live.delete(pgid);
      o.groups?.forget(pgid);
    }
  });
  return child;
}

async function nodeSpawn(cmd: string, argv: string[], cwd: string | undefined, env: Record<string, string>): Promise<LogonChild> {
  const child = spawn(cmd, argv, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  return child;
}

function findExecutable(file: string, path: string, cwd: string | undefined): boolean {
  if (file.includes('/')) return existsSync(isAbsolute(file) ? file : resolvePath(cwd ?? process.cwd(), file));
  return path.split(delimiter).some((d) => d && existsSync(join(d, file)));
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Words of a command line without shell syntax: no quotes, escapes, variables, globs, redirections, separators. */
const PLAIN_LINE = /^[ \t]*[A-Za-z0-9_.,/:+@%=-]+(?:[ \t]+[A-Za-z0-9_.,/:+@%=-]+)*[ \t]*$/;
/** Shell builtins and keywords, and utilities whose builtin differs from the executable of the same name (echo). */
const SHELL_WORDS = new Set([
  'exit',
  'cd',
  'export',
  'set',
  'unset',
  'exec',
  'eval',
  '.',
  'source',
  ':',
  'alias',
  'unalias',
  'read',
  'shift',
  'trap',
  'wait',
  'umask',
  'ulimit',
  'return',
  'break',
  'continue',
  'local',
  'readonly',
  'times',
  'type',
  'hash',
  'getopts',
  'command',
  'jobs',
  'fg',
  'bg',
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'for',
  'while',
  'until',
  'do',
  'done',
  'case',
  'esac',
  'in',
  'function',
  'echo',
  'printf',
  'test',
  'kill',
  'pwd',
]);

/**
 * The argv to run a command line directly (no `/bin/sh -c`, one process creation less) when that is exactly what
 * the shell would do: plain words only (see PLAIN_LINE), no variable assignment in front, no shell builtin or
 * keyword, and the program found as an executable file on `path` (otherwise the shell's own "not found", exit 127,
 * stays the answer). Undefined: run it through the shell.
 */
export function directArgv(line: string, path: string): string[] | undefined {
  if (!PLAIN_LINE.test(line)) return undefined;
  const words = line.trim().split(/[ \t]+/);
  const file = words[0]!;
  // a relative path with a slash resolves against the child's directory, which may be the account's home: the shell
  if (file.includes('=') || SHELL_WORDS.has(file) || (file.includes('/') && !isAbsolute(file))) return undefined;
  const candidates = file.includes('/')
    ? [file]
    : path
        .split(delimiter)
        .filter((d) => isAbsolute(d))
        .map((d) => join(d, file));
  for (const c of candidates) {
    try {
      const st = statSync(c);
      if (st.isFile() && st.mode & 0o111) return words;
    } catch {
      /* next */
    }
  }
  return undefined;
}
