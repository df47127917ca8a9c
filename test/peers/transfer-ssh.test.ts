/**
 * copy / fetch over SSH against independent software: our client (ssh2) → OpenSSH sshd → the `powershell`
 * subsystem → real pwsh 7.6.9 `-sshs`, which runs the plain-PowerShell remote half as the unprivileged test user.
 * A file and a small tree go up and come back unchanged (the CLI with --ssh, and Session.copy / fetch).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunkSizeFor, FileAccessDeniedError, Session } from '../../src/index.js';
import { peerSkip } from '../helpers/peers.js';
import { runCli } from '../helpers/cli.js';
import { sshdPresent, startSshd, type SshdPeer } from './fixtures/sshd/sshd.js';

const skip = peerSkip(
  'sshd + pwsh (PSRP over SSH)',
  sshdPresent(),
  'apt-get install openssh-server, npm run peers:install, and run as root (the test user is created)',
);
let peer: SshdPeer;
let work: string;

before(async () => {
  if (skip) return;
  peer = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'winrm-ts-ssh-transfer-'));
  chmodSync(work, 0o755);
  mkdirSync(join(work, 'remote'));
  chmodSync(join(work, 'remote'), 0o777); // the test user writes here
});
after(async () => {
  await peer?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('CLI copy / fetch --ssh: a file and a tree, same bytes back', { skip }, async () => {
  const data = randomBytes(3 * 1024 * 1024 + 17);
  writeFileSync(join(work, 'f.bin'), data);
  const conn = ['--ssh', '-H', `127.0.0.1:${peer.port}`, '-u', peer.user, '--ssh-key', peer.keyPath, '--known-hosts', peer.knownHosts];
  const up = await runCli(['copy', ...conn, join(work, 'f.bin'), join(work, 'remote') + '/'], { timeoutMs: 180_000 });
  assert.equal(up.code, 0, up.stderr);
  assert.equal(sha(readFileSync(join(work, 'remote', 'f.bin'))), sha(data));
  const down = await runCli(['fetch', ...conn, join(work, 'remote', 'f.bin'), join(work, 'back.bin')], { timeoutMs: 180_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.equal(sha(readFileSync(join(work, 'back.bin'))), sha(data));

  mkdirSync(join(work, 'tree', 'sub'), { recursive: true });
  for (let i = 0; i < 20; i++) writeFileSync(join(work, 'tree', i % 2 ? 'sub' : '', `f${i}`), randomBytes(i * 100));
  const t = await runCli(['copy', ...conn, join(work, 'tree'), join(work, 'remote')], { timeoutMs: 180_000 });
  assert.equal(t.code, 0, t.stderr);
  const tb = await runCli(['fetch', ...conn, '--json', join(work, 'remote', 'tree'), join(work, 'tree-back')], { timeoutMs: 180_000 });
  assert.equal(tb.code, 0, tb.stderr);
  assert.match(tb.stdout, /"type":"done","files":20/);
  for (let i = 0; i < 20; i++) {
    const rel = join(i % 2 ? 'sub' : '', `f${i}`);
    assert.deepEqual(readFileSync(join(work, 'tree-back', rel)), readFileSync(join(work, 'tree', rel)), rel);
  }
});

test('Session.copy over SSH runs as the remote user: a directory it may not write is access denied', { skip }, async () => {
  const s = await Session.open({
    transport: 'ssh',
    computerName: '127.0.0.1',
    port: peer.port,
    username: peer.user,
    privateKeyPath: peer.keyPath,
    knownHostsPath: peer.knownHosts,
  });
  try {
    // 1 MiB chunks over SSH (the remote pwsh's per-chunk cost bounds a copy); the CLI test above crosses chunk boundaries
    assert.equal(chunkSizeFor(s), 1024 * 1024);
    const ro = join(work, 'root-only');
    mkdirSync(ro);
    chmodSync(ro, 0o755);
    writeFileSync(join(work, 'small.txt'), 'x');
    await assert.rejects(
      s.copy(join(work, 'small.txt'), join(ro, 'x.txt')),
      (e: unknown) => e instanceof FileAccessDeniedError && e.side === 'remote',
    );
    const r = await s.copy(join(work, 'small.txt'), join(work, 'remote', 'ok.txt'));
    assert.equal(r.files.length, 1);
    assert.equal(statSync(join(work, 'remote', 'ok.txt')).size, 1);
  } finally {
    await s.close();
  }
});
