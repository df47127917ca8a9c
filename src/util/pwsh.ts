/**
 * Which PowerShell 7 to start (a local `pwsh -s` session, the endpoint's PSRP sessions): one rule for the client and
 * the endpoint.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function isExecutableFile(p: string): boolean {
  try {
    return statSync(p).isFile() && (accessSync(p, constants.X_OK), true);
  } catch {
    return false;
  }
}

/** `explicit` when given, else $WINRM_TS_PWSH, else the first executable `pwsh` on PATH; undefined when none. */
export function findPwshExecutable(explicit?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (explicit) return explicit;
  if (env.WINRM_TS_PWSH && isExecutableFile(env.WINRM_TS_PWSH)) return env.WINRM_TS_PWSH;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutableFile(join(dir, 'pwsh'))) return join(dir, 'pwsh');
  }
  return undefined;
}
