// Shared by the transfer-*.test.ts files: an in-process `serve` endpoint (Basic over HTTP, the PowerShell resource
// bridged to the real pwsh 7.6.9), one Session on it, a scratch directory, and file helpers.
import { before, after } from 'node:test';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from '../../src/index.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';

const pwsh = findPwsh();
export const skip = peerSkip('pwsh', !!pwsh);

let ps: PsrpEndpoint;
export let ep: Awaited<ReturnType<typeof startEndpoint>>;
export let dir: string;
export let session: Session;
export const opts = () => ({
  transport: 'wsman' as const,
  computerName: `127.0.0.1:${ep.port}`,
  username: USER,
  password: PASSWORD,
  auth: 'basic',
  allowUnencrypted: true,
});
export const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
export const cliConn = () => ['-H', `127.0.0.1:${ep.port}`, '-u', USER, '-p', PASSWORD, '--auth', 'basic', '--allow-unencrypted'];

/** Start the endpoint (real pwsh behind it) and one Session for the calling test file. */
export function useEndpoint(): void {
  before(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'winrm-ts-transfer-'));
    ps = new PsrpEndpoint({ pwsh });
    ep = await startEndpoint({ auth: ['basic'], allowUnencrypted: true, resources: ps.resources() });
    session = await Session.open(opts());
  });
  after(async () => {
    if (skip) return;
    await session?.close().catch(() => undefined);
    await ps.close();
    await ep.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

/** Write `n` random bytes to a file without holding them all in memory; returns the SHA-256. */
export function randomFile(path: string, n: number): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let left = n; left > 0;) {
      const b = randomBytes(Math.min(left, 1 << 20));
      h.update(b);
      writeSync(fd, b);
      left -= b.length;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}
export function fileSha(path: string): string {
  return sha(readFileSync(path));
}
