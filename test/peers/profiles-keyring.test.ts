/**
 * The opt-in OS keyring (src/cli/keyring.ts): a private D-Bus session with GNOME Keyring (dbus-run-session,
 * gnome-keyring-daemon --unlock), a password stored with `secret-tool store`, and the CLI reading it for a profile
 * with "keyring": true — and not reading it without the opt-in.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv } from '../helpers/cli.js';
import { hasCommand, peerSkip, PROJECT_ROOT } from '../helpers/peers.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';

const skip = peerSkip(
  'secret-tool + GNOME Keyring (libsecret-tools gnome-keyring)',
  hasCommand('secret-tool') && hasCommand('gnome-keyring-daemon') && hasCommand('dbus-run-session'),
);
let ep: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  if (!skip) ep = await startEndpoint({ auth: ['negotiate'] });
});
after(async () => {
  await ep?.close();
});

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run `steps` (shell lines) in a fresh D-Bus session with an unlocked keyring holding USER's password. */
function inKeyringSession(dir: string, steps: string[]): Promise<{ code: number | null; out: string }> {
  const script = [
    'eval "$(printf unlock-pw | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"',
    `secret-tool store --label=winrm-ts-test service winrm-ts user ${sq(USER)} < "$PWFILE"`, // the password from a file, not argv
    'rm -f "$PWFILE"',
    ...steps,
  ].join('\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_RUNTIME_DIR: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    PWFILE: join(dir, 'pw'),
  };
  delete env.WINRM_PASSWORD;
  delete env.DBUS_SESSION_BUS_ADDRESS;
  writeFileSync(join(dir, 'pw'), PASSWORD, { mode: 0o600 });
  return new Promise((resolve, reject) => {
    const child = spawn('dbus-run-session', ['--', 'bash', '-c', script], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      out += d;
    });
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out: ${out}`));
    }, 120_000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

test(
  'keyring: "keyring": true reads the stored password; without the opt-in nothing is looked up; an unknown user is told how to store one',
  { skip },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-keyring-'));
    mkdirSync(join(dir, 'config', 'winrm-ts'), { recursive: true });
    const host = `127.0.0.1:${ep.port}`;
    writeFileSync(
      join(dir, 'config', 'winrm-ts', 'config.json'),
      JSON.stringify({
        hosts: { kr: { host, user: USER, keyring: true }, plain: { host, user: USER }, bob: { host, user: 'EXAMPLE\\bob', keyring: true } },
      }),
    );
    const cli = (label: string, args: string[]) =>
      `echo "== ${label}"; ${[process.execPath, ...cliArgv(['run', ...args, '--', 'printenv', 'USERNAME'])].map(sq).join(' ')}; ` +
      `echo "== ${label} rc=$?"`;
    const r = await inKeyringSession(dir, [
      cli('profile', ['-H', 'kr']),
      cli('flag', ['-H', host, '-u', USER, '--keyring']),
      cli('no-opt-in', ['-H', 'plain']),
      cli('unknown-user', ['-H', 'bob']),
    ]);
    const part = (label: string) => r.out.split(`== ${label}\n`)[1]!.split(`== ${label} rc=`);
    const rc = (label: string) => Number(part(label)[1]!.split('\n')[0]);
    assert.equal(rc('profile'), 0, r.out);
    assert.match(part('profile')[0]!, /^alice$/m);
    assert.equal(rc('flag'), 0, r.out);
    assert.match(part('flag')[0]!, /^alice$/m);
    assert.notEqual(rc('no-opt-in'), 0);
    assert.match(part('no-opt-in')[0]!, /no password: pass -p PASSWORD or set WINRM_PASSWORD/);
    assert.doesNotMatch(part('no-opt-in')[0]!, /keyring/);
    assert.notEqual(rc('unknown-user'), 0);
    assert.match(
      part('unknown-user')[0]!,
      /no password for EXAMPLE\\bob in the keyring; store one with: secret-tool store --label='winrm-ts EXAMPLE\\bob' service winrm-ts user 'EXAMPLE\\bob'/,
    );
    assert.ok(!r.out.includes(PASSWORD), 'the password is never printed');
  },
);

test('keyring: asked for but secret-tool is not installed: an error that says what to install', { skip }, async () => {
  const { keyringPassword } = await import('../../src/cli/keyring.js');
  await assert.rejects(
    keyringPassword(USER, () => undefined, join(tmpdir(), 'no-such-secret-tool')),
    /is not installed \(Debian\/Ubuntu: apt-get install libsecret-tools/,
  );
});
