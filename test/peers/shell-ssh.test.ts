// `winrm-ts shell --ssh` against OpenSSH's sshd with the PowerShell subsystem (real pwsh), driven in tmux: the
// remote prompt, a command run as the SSH user, Tab completion, Read-Host, Ctrl+C stops a loop and the session
// goes on, exit 0.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv } from '../helpers/cli.js';
import { peerSkip, PROJECT_ROOT } from '../helpers/peers.js';
import { startTerminal, tmuxPresent, type Terminal } from '../helpers/tmux.js';
import { sshdLog, sshdPresent, startSshd, type SshdPeer } from './fixtures/sshd/sshd.js';

const skip =
  peerSkip('sshd + pwsh (PSRP over SSH)', sshdPresent(), 'apt-get install openssh-server, npm run peers:install, and run as root') ||
  peerSkip('tmux', tmuxPresent(), 'apt-get install tmux (scripts/peers-install.sh)');
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const PROMPT = /\[127\.0\.0\.1\]: PS [^\n]*>\s*$/;

let peer: SshdPeer;
let dir: string;
let t: Terminal | undefined;
before(async () => {
  if (skip) return;
  peer = await startSshd();
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-shell-ssh-'));
});
after(async () => {
  t?.close();
  if (skip) return;
  await peer.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('shell --ssh: prompt, whoami, Tab, Read-Host, Ctrl+C keeps the session, exit 0', { skip, timeout: 180_000 }, async () => {
  const args = [
    'shell',
    '--ssh',
    '-H',
    `127.0.0.1:${peer.port}`,
    '-u',
    peer.user,
    '--ssh-key',
    peer.keyPath,
    '--known-hosts',
    peer.knownHosts,
  ];
  t = startTerminal([process.execPath, ...cliArgv(args)].map(q).join(' '), {
    cwd: PROJECT_ROOT,
    env: { ...process.env, XDG_CONFIG_HOME: dir },
  });
  try {
    await t.waitFor(PROMPT);
    t.type('"user=" + [Environment]::UserName');
    t.send('Enter');
    await t.waitFor(new RegExp(`^user=${peer.user}$`, 'm'));
    await t.waitFor(PROMPT);
    t.type('Get-ChildI');
    t.send('Tab');
    await t.waitFor(/> Get-ChildItem$/m);
    t.send('C-u'); // drop it
    t.type('$a = Read-Host "Answer"; "got $a"');
    t.send('Enter');
    await t.waitFor(/Answer:\s*$/);
    t.type('forty-two');
    t.send('Enter');
    await t.waitFor(/^got forty-two$/m);
    await t.waitFor(PROMPT);
    t.type('$v = "kept"; "looping"; while ($true) { Start-Sleep -Milliseconds 100 }');
    t.send('Enter');
    await t.waitFor(/^looping$/m);
    t.send('C-c');
    await t.waitFor(PROMPT);
    t.type('$v');
    t.send('Enter');
    await t.waitFor(/^kept$/m);
    t.type('exit');
    t.send('Enter');
    await t.waitFor(/^EXITED 0$/m);
  } catch (e) {
    assert.fail(`${(e as Error).message}\nsshd log:\n${sshdLog(peer)}`);
  }
});
