/**
 * CredSSP against FreeRDP (independent implementation: WinPR's NTLM + CredSSP), recipe ../shared/peers/README.md C:
 *  - OUR initiator -> freerdp-shadow-cli (NLA, SAM file, under Xvfb) through the RDP X.224 harness;
 *  - xfreerdp (+auth-only) -> OUR acceptor behind the same harness.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { hasCommand, peerSkip } from '../helpers/peers.js';
import { credsspToRdpServer, rdpAcceptorServer } from './fixtures/rdp/harness.js';
import { AccessDeniedError, CredSSPError } from '../../src/errors.js';
import type { UserDatabase } from '../../src/auth/types.js';

const present = ['freerdp-shadow-cli', 'xfreerdp', 'Xvfb', 'winpr-hash', 'stdbuf'].every(hasCommand);
const skip = peerSkip('freerdp2-shadow-x11 + freerdp2-x11 + xvfb', present);
const SHADOW = new URL('./fixtures/rdp/shadow.sh', import.meta.url).pathname;
const users: UserDatabase = {
  lookup: (d, u) =>
    u.toLowerCase() === 'alice' && (!d || d.toUpperCase() === 'EXAMPLE')
      ? { domain: 'EXAMPLE', user: 'alice', password: 'Passw0rd!' }
      : undefined,
};

let work = '';
let port = 0;
let display = '';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}
const log = () => (existsSync(join(work, 'shadow.log')) ? readFileSync(join(work, 'shadow.log'), 'latin1') : '');
const count = (re: RegExp) => (log().match(re) ?? []).length;
/** Wait (bounded) until the shadow log satisfies `cond`; returns whether it did. Not a timing assertion. */
async function waitLog(cond: () => boolean, maxMs = 15000): Promise<boolean> {
  for (let waited = 0; waited < maxMs; waited += 100) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'winrm-ts-freerdp-'));
  port = await freePort();
  try {
    execFileSync(SHADOW, ['start', work, String(port)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60000 });
  } catch (e) {
    throw new Error(`could not start freerdp-shadow-cli: ${(e as { stderr?: Buffer }).stderr ?? e}\n${log().slice(-2000)}`);
  }
  display = readFileSync(join(work, 'display'), 'utf8').trim();
});
after(() => {
  if (!work) return;
  try {
    execFileSync(SHADOW, ['stop', work], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
  if (!process.env.KEEP_WORK) rmSync(work, { recursive: true, force: true });
});

const initOpts = (password: string) => ({
  credentials: { username: 'EXAMPLE\\alice', password },
  targetHost: '127.0.0.1',
  delegateTo: ['wsman/127.0.0.1'],
  inner: 'ntlm' as const, // WinPR 2.x's CredSSP server takes raw NTLMSSP (as mstsc sends), not SPNEGO
  spn: 'TERMSRV/127.0.0.1',
});

test('freerdp: our CredSSP initiator -> FreeRDP shadow server: TSCredentials accepted', { skip }, async () => {
  const before = count(/CONNECTION_STATE_INITIAL --> CONNECTION_STATE_NEGO/g);
  const r = await credsspToRdpServer('127.0.0.1', port, initOpts('Passw0rd!'));
  try {
    assert.equal(r.selectedProtocol, 2, 'PROTOCOL_HYBRID');
    assert.ok(r.initiator.complete);
    assert.equal(r.initiator.version, 6);
    // FreeRDP logs the authInfo it received and, once TSCredentials decrypted and verified, moves the connection on
    // (on failure it logs "Could not decrypt TSCredentials" and drops the connection)
    const ok = await waitLog(
      () => count(/CONNECTION_STATE_INITIAL --> CONNECTION_STATE_NEGO/g) > before || /Could not decrypt TSCredentials/.test(log()),
    );
    assert.ok(ok, 'FreeRDP logged no verdict on the credentials');
    assert.doesNotMatch(log(), /Could not decrypt TSCredentials/);
    assert.match(log(), /NLA\.authInfo \(length = \d+\)/);
    assert.match(log(), /CredSSP protocol support 6, peer supports 6/);
  } finally {
    r.socket.destroy();
  }
});

test('freerdp: wrong password fails cleanly with a CredSSPError (no hang, no secret in the message)', { skip }, async () => {
  await assert.rejects(credsspToRdpServer('127.0.0.1', port, initOpts('wrong-pw-123')), (e: unknown) => {
    assert.ok(e instanceof CredSSPError, String(e));
    assert.match(e.message, /refused|closed/);
    assert.doesNotMatch(e.message, /wrong-pw-123|Passw0rd/);
    return true;
  });
  assert.ok(await waitLog(() => /client authentication failure/.test(log())));
});

function xfreerdp(p: number, password: string): Promise<number> {
  return new Promise((resolve) => {
    // password on stdin (/from-stdin), not in argv
    const c = spawn('xfreerdp', [`/v:127.0.0.1:${p}`, '/u:EXAMPLE\\alice', '/from-stdin:force', '/cert:ignore', '/sec:nla', '+auth-only'], {
      env: { ...process.env, DISPLAY: `:${display}` },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    c.stdin.end(password + '\n');
    const t = setTimeout(() => c.kill(), 30000);
    c.on('exit', (code) => {
      clearTimeout(t);
      resolve(code ?? -1);
    });
  });
}

test('freerdp: xfreerdp -> our CredSSP acceptor recovers exactly the credentials it sent', { skip }, async () => {
  const srv = await rdpAcceptorServer({ userDb: users, serverName: 'HOSTA' });
  try {
    const [, r] = await Promise.all([xfreerdp(srv.port, 'Passw0rd!'), srv.accepted]);
    assert.equal(r.error, undefined, r.error?.message);
    assert.match(r.connectionRequest.toString('latin1'), /mstshash=alice/);
    assert.equal(r.acceptor.peerVersion, 6);
    assert.deepEqual(
      { ...r.acceptor.identity },
      { domain: 'EXAMPLE', user: 'alice', logonType: 'interactive', password: 'Passw0rd!', mechanism: 'credssp' },
    );
  } finally {
    await srv.close();
  }
});

test('freerdp: xfreerdp with a wrong password -> our acceptor refuses, nothing delegated', { skip }, async () => {
  const srv = await rdpAcceptorServer({ userDb: users, serverName: 'HOSTA' });
  try {
    const [code, r] = await Promise.all([xfreerdp(srv.port, 'nope'), srv.accepted]);
    assert.notEqual(code, 0);
    assert.ok(r.error instanceof AccessDeniedError, String(r.error));
    assert.equal(r.acceptor.identity, undefined);
  } finally {
    await srv.close();
  }
});
