// The double hop inside PowerShell remoting, through the CLI: `winrm-ts ps -H hostA` runs a script in the real
// pwsh hosted by hostA's endpoint; the script calls `winrm-ts run -H hostB -- whoami` with no credentials.
// CredSSP to hostA -> the runspace's logon session holds credentials -> hostB answers example\alice.
// Negotiate to hostA -> a network logon -> hostB refuses NT AUTHORITY\ANONYMOUS LOGON.
// Skips cleanly when the real pwsh (peer) or the endpoint's PowerShell resource is not there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv, runCli } from '../helpers/cli.js';
import { PROJECT_ROOT, findPwsh, peerSkip } from '../helpers/peers.js';

const USER = 'EXAMPLE\\alice';
const PASSWORD = 'Passw0rd!';
const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);

const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-double-hop-psrp-'));
const usersFile = join(dir, 'users');
writeFileSync(usersFile, `${USER}:${PASSWORD}\n`, { mode: 0o600 });
const children: ChildProcess[] = [];
const logs: Record<string, string> = {};

function startServe(name: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgv(['serve', '--listen', '127.0.0.1:0', '--users', usersFile, '--name', name, ...args]), {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    logs[name] = '';
    let port = 0;
    const onData = (d: Buffer) => {
      logs[name] += d.toString('utf8');
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(logs[name]!);
      if (m && !port) {
        port = Number(m[1]);
        resolve(port);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      if (!port) reject(new Error(`serve ${name} exited with ${code}: ${logs[name]}`));
    });
  });
}

let PA = 0,
  PB = 0;
before(async () => {
  if (skip) return;
  [PA, PB] = await Promise.all([
    startServe('hostA', ['--auth', 'negotiate,credssp', '--pwsh', pwsh!]),
    startServe('hostB', ['--auth', 'negotiate,credssp']),
  ]);
});
after(() => {
  for (const c of children) c.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

const psOnA = (auth: string[], script: string) =>
  runCli(['ps', '-H', `127.0.0.1:${PA}`, '-u', USER, '-p', PASSWORD, ...auth, '-c', script], { timeoutMs: 120_000 });

test('PSRP double hop with CredSSP: a script on hostA reaches hostB as example\\alice', { skip }, async () => {
  const r = await psOnA(
    ['--auth', 'credssp', '--delegate-to', 'wsman/127.0.0.1'],
    `$env:USERNAME; winrm-ts run -H 127.0.0.1:${PB} -- whoami; "exit=$LASTEXITCODE"`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.replace(/\r/g, '').trim().split('\n'), ['alice', 'example\\alice', 'exit=0']);
  assert.match(logs.hostB!, /auth ok EXAMPLE\\alice via negotiate/);
  for (const [n, l] of Object.entries(logs)) assert.ok(!l.includes(PASSWORD), `the password appears in ${n}'s log`);
});

test('PSRP double hop with Negotiate: the script gets NT AUTHORITY\\ANONYMOUS LOGON', { skip }, async () => {
  const r = await psOnA(['--auth', 'negotiate'], `winrm-ts run -H 127.0.0.1:${PB} -- whoami; "exit=$LASTEXITCODE"`);
  assert.match(r.stdout, /exit=1/);
  assert.match(r.stderr, /NT AUTHORITY\\ANONYMOUS LOGON/);
  assert.match(r.stderr, /network logon/);
});
