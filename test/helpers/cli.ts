/** Spawn the winrm-ts CLI from source (tsx) so tests need no build step. */
import { spawn, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from './peers.js';

import { existsSync } from 'node:fs';

export const CLI_ENTRY = join(PROJECT_ROOT, 'src', 'cli', 'main.ts');
/** The built CLI as installed (package.json bin: the bundle of scripts/bundle-cli.mjs): `npm test` builds first and sets
 *  WINRM_TS_TEST_DIST=1 so spawned CLIs skip tsx's start-up cost. */
export const CLI_DIST = join(PROJECT_ROOT, 'dist', 'src', 'bundle', 'main.js');
const USE_DIST = process.env.WINRM_TS_TEST_DIST === '1' && existsSync(CLI_DIST);
export function cliArgv(args: string[]): string[] {
  return USE_DIST ? [CLI_DIST, ...args] : ['--import', 'tsx', CLI_ENTRY, ...args];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}
export function runCli(args: string[], opts: SpawnOptions & { input?: string | Buffer; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgv(args), { cwd: PROJECT_ROOT, ...opts, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d) => {
      stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d) => {
      stderr += d;
    });
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI timed out: ${args.join(' ')}\n${stderr}`));
    }, opts.timeoutMs ?? 60000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}
