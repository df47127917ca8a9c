// `ps --ssh` text output is PowerShell's own formatting too: over OpenSSH's `powershell` subsystem (a real sshd and
// pwsh -sshs), stdout and stderr equal what `pwsh -c` prints for the same script (ANSI stripped, same width), and
// pwsh -File arguments bind there as well.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { runCli } from '../helpers/cli.js';
import { peerSkip } from '../helpers/peers.js';
import { sshdLog, sshdPresent, startSshd, type SshdPeer } from './fixtures/sshd/sshd.js';
import { stripAnsi } from '../../src/cli/format.js';

const skip = peerSkip(
  'sshd + pwsh (PSRP over SSH)',
  sshdPresent(),
  'apt-get install openssh-server, npm run peers:install, and run as root (the test user is created)',
);
let peer: SshdPeer;

const pwshC = (pwsh: string, script: string) =>
  new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      pwsh,
      ['-NoProfile', '-NonInteractive', '-c', `$PSStyle.OutputRendering = 'PlainText'; ${script}`],
      { timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') reject(err);
        else resolve({ stdout, stderr });
      },
    );
  });

before(async () => {
  if (!skip) peer = await startSshd();
});
after(async () => {
  await peer?.stop();
});

test('ps --ssh: the same text as pwsh -c (tables, lists, a hashtable, the error view); -File arguments', { skip }, async () => {
  const width = Number((await pwshC(peer.pwsh, '$Host.UI.RawUI.BufferSize.Width')).stdout.trim());
  const script =
    '1..3 | ForEach-Object { [pscustomobject]@{ N = $_; Square = $_ * $_ } } | Format-Table; ' +
    '[pscustomobject]@{ Name = "x"; Count = 3 } | Format-List; @{ b = 2 }; Get-Item /no/such/file; "after"';
  const ssh = ['ps', '--ssh', '-H', `127.0.0.1:${peer.port}`, '-u', peer.user, '--ssh-key', peer.keyPath, '--known-hosts', peer.knownHosts];
  const env = { ...process.env, COLUMNS: String(width) };
  const [want, got] = await Promise.all([pwshC(peer.pwsh, script), runCli([...ssh, '-c', script], { env, timeoutMs: 180_000 })]);
  assert.equal(stripAnsi(got.stdout), stripAnsi(want.stdout), `${got.stderr}\n${sshdLog(peer)}`);
  assert.equal(stripAnsi(got.stderr), stripAnsi(want.stderr));
  assert.equal(got.code, 1);
  const args = await runCli(
    [...ssh, '-c', 'param([string]$Name, [switch]$Loud) if ($Loud) { "HI $Name" } else { "hi $Name" }', '--', '-Loud', '-Name', 'ssh'],
    { env, timeoutMs: 180_000 },
  );
  assert.equal(args.stdout, 'HI ssh\n', args.stderr);
});
