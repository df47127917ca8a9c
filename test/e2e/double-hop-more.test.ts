// The double hop, more ways through the CLI: Basic over HTTPS to hostA also works (the password reaches hostA inside
// TLS: an interactive logon, like CredSSP), and a third hop — a process in hostA's CredSSP session asks hostA's broker
// for a CredSSP context onward, so hostB holds credentials too and a process there reaches a third endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { selfSigned } from '../helpers/server-fixture.js';
import { Hosts, hop1, PASSWORD, type Endpoint } from './double-hop-helpers.js';

const hosts = new Hosts();
let A: Endpoint, B: Endpoint, AS: Endpoint;
before(async () => {
  const c = selfSigned();
  [A, B, AS] = await Promise.all([
    hosts.start('hostA', ['--auth', 'negotiate,credssp']),
    hosts.start('hostB', ['--auth', 'negotiate,credssp']),
    hosts.start('hostA-https', ['--auth', 'basic,negotiate', '--https', '--cert', c.certFile, '--key', join(c.dir, 'k.pem')]),
  ]);
});
after(() => hosts.stop());

test('double hop with Basic over HTTPS: the password reached hostA (an interactive logon), so it works too', async () => {
  const r = await hop1(AS, ['--auth', 'basic', '--https', '--ca', selfSigned().certFile], `winrm-ts run -H 127.0.0.1:${B.port} -- whoami`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.replace(/\r/g, '').trim(), 'example\\alice');
});

test('a third hop: from the CredSSP session on hostA, CredSSP onward through the broker, then back again', async () => {
  // hostA's process asks hostA's broker for a CredSSP context to hostB: hostB gets an interactive logon too
  const third = `winrm-ts run -H 127.0.0.1:${A.port} -- whoami`;
  const r = await hop1(
    A,
    ['--auth', 'credssp', '--delegate-to', 'wsman/127.0.0.1'],
    `winrm-ts run -H 127.0.0.1:${B.port} --auth credssp --delegate-to wsman/127.0.0.1 -- "${third}"`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.replace(/\r/g, '').trim(), 'example\\alice');
  assert.match(B.log(), /auth ok EXAMPLE\\alice via credssp \(interactive\)/);
});

test('no password in any endpoint log', () => {
  for (const [name, log] of hosts.logs()) assert.ok(!log.includes(PASSWORD), `the password appears in ${name}'s log`);
});
