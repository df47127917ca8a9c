/**
 * Peer discovery for interop suites. On a laptop a missing peer makes the suite skip with a clear
 * message; with WINRM_TS_REQUIRE_PEERS=1 (CI) a missing peer is a failure.
 */
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const REQUIRE_PEERS = process.env.WINRM_TS_REQUIRE_PEERS === '1';
export const PROJECT_ROOT = new URL('../..', import.meta.url).pathname;
export const SHARED = process.env.WINRM_TS_SHARED ?? join(PROJECT_ROOT, '..', 'shared');
/** Where scripts/peers-install.sh puts the real PowerShell (dotnet tool). */
export const PEERS_DIR = process.env.WINRM_TS_PEERS_DIR ?? '/opt/winrm-ts-peers';

/**
 * Returns `false` when the peer is present (run the test) or a skip message when it is absent.
 * Throws when peers are required (CI). Use as: `test('x', { skip: peerSkip('pwsh', ok) }, ...)`.
 */
export function peerSkip(name: string, present: boolean, hint = 'run `npm run peers:install`'): false | string {
  if (present) return false;
  const msg = `peer ${name} is not installed (${hint})`;
  if (REQUIRE_PEERS) throw new Error(`${msg}; WINRM_TS_REQUIRE_PEERS=1 requires it`);
  return msg;
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
export function hasDebPackage(pkg: string): boolean {
  try {
    execFileSync('dpkg', ['-s', pkg], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
export function findPwsh(): string | undefined {
  const cands = [process.env.WINRM_TS_PWSH, join(PEERS_DIR, 'pwsh', 'pwsh')].filter(Boolean) as string[];
  return cands.find((p) => existsSync(p));
}
/** Where the pypsrp recordings of real Windows hosts are looked for (they are not part of this repository). */
export const RECORDINGS_DIR = join(SHARED, 'recordings', 'pypsrp');

/**
 * The pypsrp recordings folder, or undefined when it is absent (the tests that need it skip with
 * `recordingsSkip()`). With WINRM_TS_REQUIRE_PEERS=1 (CI) an absent folder throws: the test file fails.
 */
export function recordingsDir(): string | undefined {
  if (existsSync(RECORDINGS_DIR)) return RECORDINGS_DIR;
  if (REQUIRE_PEERS) throw new Error(`${recordingsSkip(undefined)}; WINRM_TS_REQUIRE_PEERS=1 requires them`);
  return undefined;
}

/** The skip reason of a recordings test: false when `dir` is there, else what is missing and where to get it. */
export function recordingsSkip(dir: string | undefined): false | string {
  return dir
    ? false
    : `the pypsrp recordings of real Windows hosts are missing: no folder ${RECORDINGS_DIR} (they are not part of ` +
        'this repository; point WINRM_TS_SHARED at the folder that holds recordings/pypsrp)';
}

/**
 * pypsrp 0.9.1 + pyspnego + requests-credssp from source (../shared/peers/python, MIT) with Debian's python3,
 * python3-requests and python3-cryptography: the PYTHONPATH to run it with, or undefined when something is missing.
 */
export function pypsrpPath(): string | undefined {
  const dir = join(SHARED, 'peers', 'python');
  const parts = ['pypsrp', 'pyspnego', 'requests-credssp'].map((p) => join(dir, p));
  if (!parts.every((p) => existsSync(p)) || !existsSync('/usr/bin/python3')) return undefined;
  if (!hasDebPackage('python3-requests') || !hasDebPackage('python3-cryptography')) return undefined;
  return parts.join(':');
}
