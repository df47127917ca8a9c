// Independent peer: pywinrm 0.3.0 (requests-ntlm / python3-ntlm-auth: its own NTLM and sealing) with
// transport='ntlm' and message_encryption='always' against our endpoint (raw NTLMSSP under "Negotiate").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hasDebPackage, peerSkip } from '../helpers/peers.js';
import { serve, type ServerHandle } from '../../src/server/server.js';
import { parseUsers } from '../../src/server/users.js';

const FIX = new URL('./fixtures/', import.meta.url).pathname;
const present = hasDebPackage('python3-winrm') && hasDebPackage('python3-requests-ntlm') && existsSync('/usr/bin/python3');
const skip = peerSkip('pywinrm 0.3.0 + requests-ntlm', present);
let srv: ServerHandle | undefined;
const log: string[] = [];

function pywinrm(user: string, password: string, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile(
      '/usr/bin/python3',
      [FIX + 'pywinrm/ntlm_client.py', srv!.url, user, String(n)],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', OPENSSL_CONF: FIX + 'openssl-legacy.cnf' },
        timeout: 60000,
      },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout)),
    );
    p.stdin!.end(password + '\n');
  });
}

before(async () => {
  if (skip) return;
  srv = await serve({
    listen: '127.0.0.1:0',
    userDb: parseUsers('EXAMPLE\\alice:Passw0rd!\n'),
    auth: ['negotiate'],
    log: (l) => log.push(l),
  });
});
after(async () => {
  await srv?.close();
});

test('pywinrm transport=ntlm, message_encryption=always: 3 commands on one session against our endpoint', { skip }, async () => {
  const out = await pywinrm('EXAMPLE\\alice', 'Passw0rd!', 3);
  assert.equal(out.trim(), 'ok 0\nok 1\nok 2');
  assert.ok(
    log.some((l) => /auth ok EXAMPLE\\alice via negotiate \(network\)/.test(l)),
    log.join('\n'),
  );
  assert.ok(!log.some((l) => /unencrypted/.test(l)), 'every request was sealed');
});

test('pywinrm with a wrong password gets InvalidCredentialsError; the endpoint log names no password', { skip }, async () => {
  const out = await pywinrm('EXAMPLE\\alice', 'Zq9-notmine', 1);
  assert.equal(out.trim(), 'denied');
  assert.ok(
    log.some((l) => /access denied for EXAMPLE\\alice \(NTLM\)/.test(l)),
    log.join('\n'),
  );
  assert.ok(!log.some((l) => l.includes('Zq9-notmine') || l.includes('Passw0rd!')));
});
