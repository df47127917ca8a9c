// The double hop (issue 4), in process: client -> hostA -> hostB, two endpoints on loopback with the same users.
// hostA runs `winrm-ts run -H hostB -- printenv USERNAME` with no credentials: it is "the logged-on user".
//  - Negotiate to hostA: a network logon holds no credentials -> hostB refuses ANONYMOUS LOGON;
//  - CredSSP to hostA (delegate list allows it): the delegated password stays in hostA's logon-session credential
//    broker (src/server/broker.ts), the child authenticates through it -> hostB sees alice; the password is never in
//    the child's environment or any log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/index.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { cliArgv } from '../helpers/cli.js';
import { BROKER_SOCKET_ENV } from '../../src/broker/wire.js';

let hostA: Awaited<ReturnType<typeof startEndpoint>>;
let hostB: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  hostA = await startEndpoint({ auth: ['negotiate', 'credssp', 'basic'], allowUnencrypted: false, name: 'hostA' });
  hostB = await startEndpoint({ auth: ['negotiate', 'credssp'], allowUnencrypted: false, name: 'hostB' });
});
after(async () => {
  await hostA.close();
  await hostB.close();
});

const inner = () => [process.execPath, ...cliArgv(['run', '-H', `127.0.0.1:${hostB.port}`, '--', 'printenv', 'USERNAME'])];

async function viaHostA(o: Record<string, unknown>) {
  const c = connect({ host: `127.0.0.1:${hostA.port}`, username: USER, password: PASSWORD, delegateTo: ['wsman/127.0.0.1'], ...o });
  try {
    const [cmd, ...args] = inner();
    return await c.exec(cmd!, args);
  } finally {
    c.close();
  }
}

test('double hop with Negotiate: hostB refuses NT AUTHORITY\\ANONYMOUS LOGON', async () => {
  const r = await viaHostA({ auth: 'negotiate' });
  assert.notEqual(r.exitCode, 0);
  assert.match(r.stderr.toString(), /ANONYMOUS LOGON/);
});

test("double hop with CredSSP: hostB sees EXAMPLE\\alice through hostA's credential broker", async () => {
  const r = await viaHostA({ auth: 'credssp' });
  assert.equal(r.exitCode, 0, r.stderr.toString());
  assert.equal(r.stdout.toString().trim(), 'alice');
  assert.ok(hostA.lines.some((l) => /via credssp \(interactive\)/.test(l)));
  assert.ok(
    hostB.lines.some((l) => /auth ok EXAMPLE\\alice via negotiate/.test(l)),
    hostB.lines.join('\n'),
  );
});

test('double hop: the child environment holds a broker handle, never the password', async () => {
  const c = connect({
    host: `127.0.0.1:${hostA.port}`,
    username: USER,
    password: PASSWORD,
    auth: 'credssp',
    delegateTo: ['wsman/127.0.0.1'],
  });
  try {
    const r = await c.exec('env', []);
    const env = r.stdout.toString();
    assert.match(env, new RegExp(`^${BROKER_SOCKET_ENV}=.+$`, 'm'), 'a CredSSP logon holds credentials: its processes get the broker');
    assert.match(env, /^USERNAME=alice$/m);
    assert.doesNotMatch(env, /Passw0rd/);
  } finally {
    c.close();
  }
  for (const l of [...hostA.lines, ...hostB.lines]) assert.doesNotMatch(l, /Passw0rd/);
});
