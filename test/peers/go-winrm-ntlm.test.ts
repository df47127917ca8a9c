// Independent peer: Go masterzen/winrm with NTLM (Azure/go-ntlmssp; authentication only, it cannot seal).
// Against our endpoint started with allowUnencrypted it runs a command; without it, it gets the refusal (401).
// Our own small program (fixtures/go/src/winrmntlm) rather than the Basic peer, because it reads the password from
// stdin: no secret in a child's argv.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand, hasDebPackage, peerSkip, PROJECT_ROOT } from '../helpers/peers.js';
import { serve, type ServerHandle } from '../../src/server/server.js';
import { parseUsers } from '../../src/server/users.js';

const GOPATH_FIX = new URL('./fixtures/go/', import.meta.url).pathname;
const OUT = join(PROJECT_ROOT, '.peers');
const BIN = join(OUT, 'winrmntlm');
const present = hasCommand('go') && hasDebPackage('golang-github-masterzen-winrm-dev');
const skip = peerSkip('Go masterzen/winrm', present);
const users = parseUsers('EXAMPLE\\alice:Passw0rd!\n');
const servers: ServerHandle[] = [];

function run(port: number, password: string, ...cmd: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = execFile(
      BIN,
      ['127.0.0.1', String(port), 'EXAMPLE\\alice', ...cmd],
      { timeout: 60000, env: { PATH: process.env.PATH ?? '' } },
      (err, stdout) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout }),
    );
    p.stdin!.end(password + '\n');
  });
}

before(() => {
  if (skip) return;
  if (existsSync(BIN) && statSync(BIN).mtimeMs >= statSync(join(GOPATH_FIX, 'src/winrmntlm/main.go')).mtimeMs) return; // cached
  mkdirSync(join(OUT, 'gocache'), { recursive: true });
  execFileSync('go', ['build', '-o', BIN, 'winrmntlm'], {
    env: { ...process.env, GO111MODULE: 'off', GOPATH: `${GOPATH_FIX}:/usr/share/gocode`, GOCACHE: join(OUT, 'gocache') },
    stdio: 'pipe',
    timeout: 240000,
  });
});
after(async () => {
  for (const s of servers) await s.close();
});

test('masterzen/winrm NTLM against our endpoint with allowUnencrypted: the command runs', { skip }, async () => {
  const s = await serve({ listen: '127.0.0.1:0', userDb: users, auth: ['negotiate'], allowUnencrypted: true });
  servers.push(s);
  const r = await run(s.port, 'Passw0rd!', 'echo', 'hi-from-go');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /code=0\nhi-from-go/);
});

test('masterzen/winrm NTLM without allowUnencrypted: refused (401), as Windows refuses unencrypted NTLM on HTTP', { skip }, async () => {
  const s = await serve({ listen: '127.0.0.1:0', userDb: users, auth: ['negotiate'] });
  servers.push(s);
  const r = await run(s.port, 'Passw0rd!', 'echo', 'x');
  assert.notEqual(r.code, 0);
  assert.match(r.out, /401/);
});

test('masterzen/winrm NTLM with a wrong password: refused', { skip }, async () => {
  const s = await serve({ listen: '127.0.0.1:0', userDb: users, auth: ['negotiate'], allowUnencrypted: true });
  servers.push(s);
  const r = await run(s.port, 'Zq9-notmine', 'echo', 'x');
  assert.notEqual(r.code, 0);
  assert.match(r.out, /401/);
});
