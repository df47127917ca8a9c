// WinRS children get a clean environment built from the logon's account (src/server/spawn.ts), not the
// endpoint's: TERM and other variables of the endpoint never reach them (pypsrp found TERM leaking); what the
// client sets in the shell's environment does; each command runs in its own process group.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../src/index.js';
import { removeStaleRunFiles } from '../../src/server/broker.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';

let ep: Awaited<ReturnType<typeof startEndpoint>>;
const saved = { TERM: process.env.TERM, WINRM_TS_ENDPOINT_ONLY: process.env.WINRM_TS_ENDPOINT_ONLY };
before(async () => {
  process.env.TERM = 'xterm-endpoint';
  process.env.WINRM_TS_ENDPOINT_ONLY = 'leak';
  ep = await startEndpoint();
});
after(async () => {
  await ep.close();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

test("a WinRS child sees its account and the client's variables, never the endpoint's TERM or other variables", async () => {
  const c = connect({ host: `127.0.0.1:${ep.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
  const shell = await c.openShell({ environment: { FROM_CLIENT: 'yes', TERM: 'vt100' } });
  try {
    const r = await shell.exec('env');
    const env = Object.fromEntries(
      r.stdout
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.equal(env.WINRM_TS_ENDPOINT_ONLY, undefined);
    assert.equal(env.TERM, 'vt100', 'a TERM the client sets is the only TERM');
    assert.equal(env.FROM_CLIENT, 'yes');
    assert.equal(env.USER, userInfo().username);
    assert.equal(env.LOGNAME, userInfo().username);
    assert.ok(env.HOME && env.SHELL, 'HOME and SHELL are set');
    assert.equal(env.USERNAME, 'alice');
    assert.ok(env.PATH!.split(':').length > 1);
    const plain = await c.openShell();
    const noTerm = await plain.exec('sh', ['-c', '\'echo "TERM=${TERM-unset}"\''], { rawArguments: true });
    assert.equal(noTerm.stdout.toString(), 'TERM=unset\n');
    await plain.close();
    // each command runs in a process group of its own, not the endpoint's
    const pg = Number((await shell.exec('sh', ['-c', "'ps -o pgid= -p $$'"], { rawArguments: true })).stdout.toString().trim());
    const mine = Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(process.pid)], { encoding: 'utf8' }).trim());
    assert.ok(pg > 1 && pg !== mine, `command pgid ${pg}, endpoint pgid ${mine}`);
  } finally {
    await shell.close();
    c.close();
  }
});

test('stale broker and shim directories of dead endpoints are removed; live ones stay', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'winrm-ts-stale-'));
  try {
    const deadPid = 2 ** 22 + 12345; // above pid_max: no such process
    const mk = (name: string) => {
      const d = join(parent, name);
      mkdirSync(d, { mode: 0o700 });
      writeFileSync(join(d, 'x'), '');
      return d;
    };
    const dead = mk(`winrm-ts-broker-${deadPid}-AbC123`);
    const deadShims = mk(`winrm-ts-shims-${deadPid}-AbC123`);
    const mine = mk(`winrm-ts-broker-${process.pid}-AbC123`);
    const legacy = mk('winrm-ts-broker-Zz9Yy8'); // older layout without pid: no socket listening -> stale
    const other = mk('something-else-AbC123');
    const removed = await removeStaleRunFiles(parent);
    assert.deepEqual(removed.sort(), [dead, deadShims, legacy].sort());
    for (const d of [mine, other]) assert.ok(removed.indexOf(d) < 0);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
