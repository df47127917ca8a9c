/**
 * The shell's history, one file per host: $XDG_CONFIG_HOME/winrm-ts/history/<host> (default ~/.config/...), mode 600
 * in a directory of mode 700, oldest line first, at most `max` lines. Written whole after each command (through a
 * temporary file and a rename, so a crash never leaves half a file).
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function historyDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'winrm-ts', 'history');
}

/** The file for a host: the name with anything but letters, digits, `.`, `-` and `_` replaced (`[::1]:5985` → `__1__5985`). */
export function historyFile(host: string, env: NodeJS.ProcessEnv = process.env): string {
  const name =
    host
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '_')
      .replace(/^\.+/, '_') || 'default';
  return join(historyDir(env), name);
}

/** The saved lines, newest first (readline's order); none when there is no file yet. */
export function loadHistory(file: string, max = 1000): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .slice(-max)
    .reverse();
}

/** Save `newestFirst` (readline's order). Errors are returned, not thrown: a read-only home must not end the shell. */
export function saveHistory(file: string, newestFirst: string[], max = 1000): Error | undefined {
  try {
    const dir = file.slice(0, file.lastIndexOf('/'));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    const lines = newestFirst.slice(0, max).reverse();
    writeFileSync(tmp, lines.length ? lines.join('\n') + '\n' : '', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
    return undefined;
  } catch (e) {
    return e as Error;
  }
}
