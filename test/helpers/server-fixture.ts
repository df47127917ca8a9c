/**
 * Test fixture: an in-process `serve()` endpoint on 127.0.0.1:0 with the acceptance users (EXAMPLE\alice),
 * and a self-signed certificate made once per process with the openssl CLI (for HTTPS tests).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, parseUsers, type ServeOptions, type ServerHandle } from '../../src/index.js';

export const USER = 'EXAMPLE\\alice';
export const PASSWORD = 'Passw0rd!';
export const userDb = () => parseUsers(`${USER}:${PASSWORD}\n# a comment\n\nEXAMPLE\\bob:B0b-secret\n`);

export async function startEndpoint(o: Partial<ServeOptions> = {}): Promise<ServerHandle & { lines: string[] }> {
  const lines: string[] = [];
  // two users without accounts: they share the test process's account (--single-account)
  const h = await serve({
    listen: '127.0.0.1:0',
    userDb: userDb(),
    singleAccount: true,
    auth: ['basic'],
    allowUnencrypted: true,
    name: 'hostA',
    log: (l) => lines.push(l),
    ...o,
  });
  return Object.assign(h, { lines });
}

let cert: { cert: string; key: string; certFile: string; dir: string } | undefined;
/** A self-signed certificate for localhost / 127.0.0.1 (made once per test process). */
export function selfSigned(): { cert: string; key: string; certFile: string; dir: string } {
  cert ??= makeCertificate(mkdtempSync(join(tmpdir(), 'winrm-ts-cert-')), 'localhost', 'DNS:localhost,IP:127.0.0.1');
  return cert;
}

/** A self-signed certificate (openssl) with this CN and subjectAltName, as dir/c.pem and dir/k.pem. */
export function makeCertificate(dir: string, cn: string, san: string): { cert: string; key: string; certFile: string; dir: string } {
  const certFile = join(dir, 'c.pem');
  const keyFile = join(dir, 'k.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=${san}`,
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, dir };
}
