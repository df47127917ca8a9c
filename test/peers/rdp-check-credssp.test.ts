/**
 * impacket's rdp_check (an independent CredSSP v2 client, python3-impacket) -> OUR CredSSP acceptor behind the RDP
 * X.224 harness. rdp_check hard-codes port 3389: we run a copy with the port taken from RDP_PORT (as the recipe in
 * ../shared/peers/README.md D does).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerSkip } from '../helpers/peers.js';
import { rdpAcceptorServer } from './fixtures/rdp/harness.js';
import { AccessDeniedError } from '../../src/errors.js';
import type { UserDatabase } from '../../src/auth/types.js';

const RDP_CHECK = '/usr/share/doc/python3-impacket/examples/rdp_check.py';
const skip = peerSkip('python3-impacket (rdp_check.py)', existsSync(RDP_CHECK) && existsSync('/usr/bin/python3'));
const users: UserDatabase = {
  lookup: (d, u) =>
    u.toLowerCase() === 'alice' && (!d || d.toUpperCase() === 'EXAMPLE')
      ? { domain: 'EXAMPLE', user: 'alice', password: 'Passw0rd!' }
      : undefined,
};
let dir = '';
let script = '';
before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-rdpcheck-'));
  script = join(dir, 'rdp_check_port.py');
  const src = readFileSync(RDP_CHECK, 'utf8').replace('s.connect((host,3389))', 's.connect((host,int(os.environ["RDP_PORT"])))');
  assert.ok(src.includes('os.environ["RDP_PORT"]'), 'rdp_check.py changed: cannot patch its port');
  writeFileSync(script, 'import os\n' + src);
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function rdpCheck(port: number, password: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const c = spawn('/usr/bin/python3', [script, `EXAMPLE/alice:${password}@127.0.0.1`], {
      env: { ...process.env, RDP_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.on('data', (d) => {
      out += d;
    });
    c.stderr.on('data', (d) => {
      out += d;
    });
    const t = setTimeout(() => c.kill(), 30000);
    c.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, out });
    });
  });
}

test('rdp_check: impacket (CredSSP v2, raw NTLM) -> our acceptor: Access Granted, credentials recovered', { skip }, async () => {
  const srv = await rdpAcceptorServer({ userDb: users, serverName: 'HOSTA' });
  try {
    const [res, r] = await Promise.all([rdpCheck(srv.port, 'Passw0rd!'), srv.accepted]);
    assert.equal(r.error, undefined, r.error?.message);
    assert.match(res.out, /Access Granted/);
    assert.equal(r.acceptor.peerVersion, 2);
    assert.equal(r.acceptor.version, 2);
    assert.deepEqual(
      { ...r.acceptor.identity },
      { domain: 'EXAMPLE', user: 'alice', logonType: 'interactive', password: 'Passw0rd!', mechanism: 'credssp' },
    );
  } finally {
    await srv.close();
  }
});

test('rdp_check: wrong password -> our acceptor refuses, rdp_check does not report access', { skip }, async () => {
  const srv = await rdpAcceptorServer({ userDb: users, serverName: 'HOSTA' });
  try {
    const [res, r] = await Promise.all([rdpCheck(srv.port, 'bad-pass'), srv.accepted]);
    assert.doesNotMatch(res.out, /Access Granted/);
    assert.ok(r.error instanceof AccessDeniedError, String(r.error));
    assert.doesNotMatch(r.error!.message, /bad-pass/);
    assert.equal(r.acceptor.identity, undefined);
  } finally {
    await srv.close();
  }
});
