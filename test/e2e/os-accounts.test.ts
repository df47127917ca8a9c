// `winrm-ts serve` as root runs each logon as the local account its users-file entry names (sshd's model): uid,
// gid, supplementary groups, HOME/USER/LOGNAME/SHELL and a clean environment; one user cannot read another's
// process environment (broker capability), the users file or the broker directory; a shell's processes die with
// it (Delete) and with the endpoint (SIGTERM); the start-up refusals. Needs root (CI runs as root): it creates
// the system accounts wts-alice and wts-bob (and the group wts-shared) if they are missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectOptions } from '../../src/index.js';
import { Session } from '../../src/client/session.js';
import type { WinrsCommand } from '../../src/client/winrs.js';
import { runCli } from '../helpers/cli.js';
import { findPwsh, hasCommand, peerSkip, PROJECT_ROOT } from '../helpers/peers.js';
import { selfSigned } from '../helpers/server-fixture.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const skip = peerSkip(
  'root with setpriv and useradd (serve switches accounts only as root)',
  isRoot && hasCommand('setpriv') && hasCommand('useradd'),
  'run the tests as root, as CI does',
);
const pwsh = findPwsh();

const ALICE = { user: 'EXAMPLE\\alice', password: 'Al1ce-pw:with-colon', account: 'wts-alice' };
const BOB = { user: 'EXAMPLE\\bob', password: 'B0b-pw', account: 'wts-bob' };

let dir: string;
let usersFile: string;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const exists = (account: string) => {
  try {
    sh('id', [account]);
    return true;
  } catch {
    return false;
  }
};

/** Idempotent (another run may create them at the same moment). */
function ensureAccounts(): void {
  for (const a of [ALICE.account, BOB.account]) {
    if (!exists(a)) {
      try {
        sh('useradd', ['-M', '-r', '-s', '/bin/sh', a]);
      } catch (e) {
        if (!exists(a)) throw e;
      }
    }
  }
  try {
    sh('groupadd', ['-f', '-r', 'wts-shared']);
  } catch {
    /* exists */
  }
  if (!sh('id', ['-Gn', ALICE.account]).split(/\s+/).includes('wts-shared')) sh('usermod', ['-a', '-G', 'wts-shared', ALICE.account]);
}

interface Serve {
  proc: ChildProcess;
  port: number;
  out: () => string;
  exited: Promise<number | null>;
}

/**
 * The project as the test accounts can read it: the checkout itself, or (when a parent directory such as /root shuts
 * other accounts out) a world-readable copy of it. A mapped account runs `winrm-ts` onward from the endpoint's own
 * installation, and the non-root start-up check runs `serve` as another account: both need to read the files.
 */
let copyOfProject: string | undefined;
function accountReadableRoot(): string {
  if (copyOfProject) return copyOfProject;
  try {
    execFileSync('setpriv', [
      '--reuid',
      'nobody',
      '--regid',
      'nogroup',
      '--clear-groups',
      '--',
      'test',
      '-r',
      join(PROJECT_ROOT, 'package.json'),
    ]);
    return PROJECT_ROOT;
  } catch {
    /* not readable: copy */
  }
  const copy = mkdtempSync(join(tmpdir(), 'winrm-ts-project-'));
  const entries = readdirSync(PROJECT_ROOT)
    .filter((e) => e !== '.git')
    .map((e) => join(PROJECT_ROOT, e));
  execFileSync('cp', ['-a', ...entries, copy]);
  execFileSync('chmod', ['-R', 'a+rX', copy]);
  chmodSync(copy, 0o755);
  copyOfProject = copy;
  return copy;
}
/** The CLI's argv under `root` (the built CLI when the tests run the build, else the source through tsx). */
function cliArgvAt(root: string, args: string[]): string[] {
  const dist = join(root, 'dist', 'src', 'cli', 'main.js');
  return process.env.WINRM_TS_TEST_DIST === '1' && existsSync(dist)
    ? [dist, ...args]
    : ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), ...args];
}

function startServe(args: string[], env: Record<string, string> = {}, wrap: string[] = []): Promise<Serve> {
  const root = accountReadableRoot();
  const argv = [...wrap, process.execPath, ...cliArgvAt(root, ['serve', '--listen', '127.0.0.1:0', '--name', 'hostA', ...args])];
  const proc = spawn(argv[0]!, argv.slice(1), { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d) => {
    out += d;
  });
  proc.stderr!.setEncoding('utf8').on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 60_000);
    proc.stdout!.on('data', () => {
      const m = /listening on https?:\/\/127\.0\.0\.1:(\d+)\/wsman/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ proc, port: Number(m[1]), out: () => out, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(t);
      reject(new Error(`serve exited (${code}): ${out}`));
    });
  });
}

let ep: Serve;
const tlsArgs = () => {
  const c = selfSigned();
  return ['--https', '--cert', c.certFile, '--key', join(c.dir, 'k.pem')];
};
const client = (who: typeof ALICE, o: Partial<ConnectOptions> = {}) =>
  connect({
    host: `127.0.0.1:${ep.port}`,
    https: true,
    ca: selfSigned().cert,
    username: who.user,
    password: who.password,
    auth: who === ALICE ? 'basic' : 'negotiate',
    ...o,
  });

before(async () => {
  if (skip) return;
  ensureAccounts();
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-accounts-'));
  chmodSync(dir, 0o755); // the users file's own mode is what keeps other accounts out
  usersFile = join(dir, 'users');
  writeFileSync(
    usersFile,
    `${ALICE.user}:${ALICE.password.replace(/:/g, '\\:')}:${ALICE.account}\n${BOB.user}:${BOB.password}:${BOB.account}\n`,
    { mode: 0o600 },
  );
  ep = await startServe(['--users', usersFile, '--auth', 'basic,negotiate', ...tlsArgs()], {
    TERM: 'xterm-endpoint',
    WINRM_TS_ENDPOINT_ONLY: 'leak',
  });
});
after(async () => {
  if (skip) return;
  ep?.proc.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  if (copyOfProject) rmSync(copyOfProject, { recursive: true, force: true });
});

async function firstLine(cmd: WinrsCommand): Promise<string> {
  let text = '';
  for await (const chunk of cmd.stdout) {
    text += chunk;
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0]!.trim();
}

/** Wait (bounded) until no process is left in the group; false if some still are. */
async function groupGone(pgid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

test('start-up says which account each logon runs as', { skip }, () => {
  assert.match(ep.out(), /logons of EXAMPLE\\alice run as 'wts-alice' \(uid \d+\)/);
  assert.match(ep.out(), /logons of EXAMPLE\\bob run as 'wts-bob' \(uid \d+\)/);
  assert.doesNotMatch(ep.out(), /WARNING/);
});

test('each logon runs as its account: uid, gid, supplementary groups, HOME/USER/LOGNAME/SHELL, clean environment', { skip }, async () => {
  for (const who of [ALICE, BOB]) {
    const c = client(who);
    try {
      const r = await c.exec('sh', ['-c', "'id -un; id -gn; id -Gn; pwd; env'"], { rawArguments: true });
      assert.equal(r.exitCode, 0, r.stderr.toString());
      const [un, gn, groups, cwd, ...envLines] = r.stdout.toString().split('\n');
      assert.equal(un, who.account);
      assert.equal(gn, who.account);
      if (who === ALICE) assert.ok(groups!.split(' ').includes('wts-shared'), `supplementary groups: ${groups}`);
      const env = Object.fromEntries(envLines.filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      const home = sh('getent', ['passwd', who.account]).split(':')[5]!;
      assert.equal(env.HOME, home);
      assert.equal(env.USER, who.account);
      assert.equal(env.LOGNAME, who.account);
      assert.equal(env.SHELL, '/bin/sh');
      assert.equal(cwd, '/', 'the account has no home directory: commands start in /');
      assert.equal(env.USERNAME, who.user.split('\\')[1]);
      assert.equal(env.TERM, undefined, "the endpoint's TERM does not leak");
      assert.equal(env.WINRM_TS_ENDPOINT_ONLY, undefined, "the endpoint's environment does not leak");
      assert.ok(!r.stdout.toString().includes(who.password), 'never the password');
    } finally {
      c.close();
    }
  }
  assert.match(ep.out(), /auth ok EXAMPLE\\alice via basic \(interactive\) as wts-alice/);
});

test("bob cannot read alice's environment (broker capability), her broker socket, nor the users file", { skip }, async () => {
  const ca = client(ALICE);
  const shell = await ca.openShell();
  try {
    // alice's command holds the broker socket and capability in its environment
    const held = await shell.run(
      'sh',
      ['-c', '\'echo "$$ $WINRM_TS_LOGON_BROKER"; test -n "$WINRM_TS_LOGON_TOKEN" && echo token; exec sleep 120\''],
      { rawArguments: true },
    );
    const [pid, socket] = (await firstLine(held)).split(' ');
    assert.match(pid!, /^\d+$/);
    assert.ok(socket?.startsWith('/'), `broker socket: ${socket}`);
    const cb = client(BOB);
    try {
      const probe = await cb.exec(
        'sh',
        [
          '-c',
          `'cat /proc/${pid}/environ >/dev/null 2>&1 && echo environ-readable; ` +
            'cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n" | grep -c WINRM_TS_LOGON_TOKEN; ' +
            `cat ${usersFile} >/dev/null 2>&1 && echo users-readable; ls ${join(socket!, '..')} >/dev/null 2>&1 && echo ` +
            `broker-dir-listable; ` +
            `test -w ${socket} && echo socket-writable; echo done'`,
        ],
        { rawArguments: true },
      );
      assert.deepEqual(probe.stdout.toString().trim().split('\n'), ['0', 'done']);
      assert.ok(!probe.stdout.toString().includes(ALICE.password));
    } finally {
      cb.close();
    }
    // alice herself reaches her socket
    const own = await shell.exec('sh', ['-c', `'test -w ${socket} && echo mine'`], { rawArguments: true });
    assert.equal(own.stdout.toString().trim(), 'mine');
    await held.terminate();
  } finally {
    await shell.close();
    ca.close();
  }
});

test(
  "alice's command goes onward through her broker (a socket only her account reaches) and lands as wts-alice again",
  { skip },
  async () => {
    const ca = join(dir, 'ca.pem'); // readable by the accounts
    writeFileSync(ca, selfSigned().cert, { mode: 0o644 });
    const c = client(ALICE);
    try {
      const r = await c.exec('sh', ['-c', `'winrm-ts run -H 127.0.0.1:${ep.port} --https --ca ${ca} -- id -un'`], { rawArguments: true });
      assert.equal(r.exitCode, 0, r.stderr.toString());
      assert.equal(r.stdout.toString().replace(/\r/g, '').trim(), ALICE.account);
    } finally {
      c.close();
    }
    assert.match(ep.out(), /broker: EXAMPLE\\alice \(logon [0-9a-f]{8}, account wts-alice\): negotiate context for 127\.0\.0\.1/);
    assert.ok(!ep.out().includes(ALICE.password), 'the endpoint log never has the password');
  },
);

test('Delete kills what the shell started: running commands and what finished commands left behind', { skip }, async () => {
  const c = client(ALICE);
  const shell = await c.openShell();
  let leftover: number;
  let running: number;
  try {
    // the command line runs under /bin/sh -c: print the process group, not the inner shell's pid
    const left = await shell.exec('sh', ['-c', "'sleep 300 >/dev/null 2>&1 & ps -o pgid= -p $$'"], { rawArguments: true });
    leftover = Number(left.stdout.toString().trim());
    const run = await shell.run('sh', ['-c', "'ps -o pgid= -p $$; exec sleep 300'"], { rawArguments: true });
    running = Number(await firstLine(run));
    assert.ok(leftover > 1 && running > 1);
    process.kill(-leftover, 0); // both groups are alive before the Delete
    process.kill(-running, 0);
    assert.equal(sh('ps', ['-o', 'user=', '-p', String(running)]).trim(), ALICE.account);
  } finally {
    await shell.close();
    c.close();
  }
  assert.ok(await groupGone(leftover!), "a finished command's background process died with the shell");
  assert.ok(await groupGone(running!), 'the running command died with the shell');
});

test("pwsh runs as the logon's account, and what it started dies with it", { skip: skip || peerSkip('pwsh', !!pwsh) }, async () => {
  const s = await Session.open({
    transport: 'wsman',
    computerName: `127.0.0.1:${ep.port}`,
    https: true,
    ca: selfSigned().cert,
    username: BOB.user,
    password: BOB.password,
    auth: 'negotiate',
  } as never);
  let pgid: number;
  try {
    const r = await s.invoke(
      '[Environment]::UserName; $env:HOME; "TERM=$env:TERM"; (ps -o pgid= -p $PID).Trim(); $null = sh -c "sleep 300 >/dev/null 2>&1 &"',
    );
    const out = r.output.map(String);
    assert.equal(out[0], BOB.account);
    assert.equal(out[1], sh('getent', ['passwd', BOB.account]).split(':')[5]);
    assert.equal(out[2], 'TERM=');
    pgid = Number(out[3]);
    assert.doesNotThrow(() => process.kill(-pgid, 0), `pwsh's process group ${pgid} is alive: ${JSON.stringify(out)}`);
  } finally {
    await s.close();
  }
  assert.ok(await groupGone(pgid!), "pwsh's process group is gone after the pool closed");
});

test('SIGTERM stops the endpoint and kills every process group it started', { skip }, async () => {
  const own = await startServe(['--users', usersFile, '--auth', 'basic,negotiate', ...tlsArgs()]);
  const c = connect({
    host: `127.0.0.1:${own.port}`,
    https: true,
    ca: selfSigned().cert,
    username: ALICE.user,
    password: ALICE.password,
    auth: 'basic',
  });
  try {
    const shell = await c.openShell();
    const cmd = await shell.run('sh', ['-c', "'sleep 300 >/dev/null 2>&1 & ps -o pgid= -p $$; exec sleep 301'"], { rawArguments: true });
    const pgid = Number(await firstLine(cmd));
    process.kill(-pgid, 0);
    own.proc.kill('SIGTERM');
    assert.equal(await own.exited, 0);
    assert.ok(await groupGone(pgid), 'the command and its background process died with the endpoint');
  } finally {
    c.close();
    own.proc.kill('SIGKILL');
  }
});

test('start-up refusals: a readable users file, several users without accounts, another account when not root', { skip }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'winrm-ts-accounts-refuse-'));
  chmodSync(d, 0o755);
  try {
    const open = join(d, 'open');
    writeFileSync(open, `${BOB.user}:${BOB.password}:${BOB.account}\n`, { mode: 0o644 });
    chmodSync(open, 0o644);
    const a = await runCli(['serve', '--listen', '127.0.0.1:0', '--users', open]);
    assert.notEqual(a.code, 0);
    assert.ok(a.stderr.includes(open) && a.stderr.includes('chmod 600'), a.stderr);

    const shared = join(d, 'shared');
    writeFileSync(shared, 'EXAMPLE\\alice:a\nEXAMPLE\\bob:b\n', { mode: 0o600 });
    const b = await runCli(['serve', '--listen', '127.0.0.1:0', '--users', shared]);
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /2 users and EXAMPLE\\alice, EXAMPLE\\bob name no local account.*--single-account/);
    // with --single-account they share the endpoint's account (root here): said at start-up, loudly
    const c = await startServe(['--users', shared, '--single-account']);
    c.proc.kill('SIGTERM');
    await c.exited;
    assert.match(c.out(), /2 users without an account \(EXAMPLE\\alice, EXAMPLE\\bob\) share this endpoint's own account 'root' \(uid 0\)/);
    assert.match(c.out(), /WARNING: logons run as root/);

    // serve as wts-bob (not root) with an entry naming wts-alice: refused with the reason
    const foreign = join(d, 'foreign');
    writeFileSync(foreign, `${ALICE.user}:x:${ALICE.account}\n`, { mode: 0o600 });
    const bobUid = Number(sh('id', ['-u', BOB.account]));
    const bobGid = Number(sh('id', ['-g', BOB.account]));
    chownSync(foreign, bobUid, bobGid);
    const asBob = ['setpriv', '--reuid', BOB.account, '--regid', BOB.account, '--init-groups', '--'];
    const root = accountReadableRoot();
    const nr = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn(
        asBob[0]!,
        [...asBob.slice(1), process.execPath, ...cliArgvAt(root, ['serve', '--listen', '127.0.0.1:0', '--users', foreign])],
        { cwd: root, env: { ...process.env, HOME: '/' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      p.stdout!.setEncoding('utf8').on('data', (x) => {
        out += x;
      });
      p.stderr!.setEncoding('utf8').on('data', (x) => {
        out += x;
      });
      const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
      p.on('exit', (code) => {
        clearTimeout(t);
        resolve({ code, out });
      });
    });
    assert.notEqual(nr.code, 0, nr.out);
    assert.match(
      nr.out,
      /EXAMPLE\\alice runs as 'wts-alice', but this endpoint runs as 'wts-bob' \(uid \d+\), not root, and cannot start processes as another account/,
    );
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
