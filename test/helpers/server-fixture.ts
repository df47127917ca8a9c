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
export function selfSigned(): { cert: string; key: string; certFile: string; dir: string } {
  if (cert) return cert;
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-cert-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'k.pem'),
      '-out',
      join(dir, 'c.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  cert = {
    cert: readFileSync(join(dir, 'c.pem'), 'utf8'),
    key: readFileSync(join(dir, 'k.pem'), 'utf8'),
    certFile: join(dir, 'c.pem'),
    dir,
  };
  return cert;
}
