/**
 * Service tickets go back into the user's credential cache, as MIT's libraries do: after one run MIT `klist` lists
 * HTTP/localhost, and a second run makes no TGS request (counted in the real MIT KDC's log). FILE: and DIR:
 * caches; the file keeps mode 600 and its other entries; a cache owned by another user is never written.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { runCli } from '../helpers/cli.js';
import { startEndpoint } from '../helpers/server-fixture.js';
import { parseUsers } from '../../src/server/users.js';

const skip = kdcSkip();
let kdc: Kdc;
let ep: Awaited<ReturnType<typeof startEndpoint>>;
const SPN = 'HTTP/localhost@EXAMPLE.TEST';

before(async () => {
  if (skip) return;
  kdc = await startKdc();
  ep = await startEndpoint({
    auth: ['negotiate', 'kerberos'],
    allowUnencrypted: false,
    keytab: kdc.httpKeytab,
    userDb: parseUsers('alice@EXAMPLE.TEST:*\n'),
  });
});
after(async () => {
  await ep?.close();
  kdc?.stop();
});

const envFor = (ccname: string): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, ...kdc.env, KRB5CCNAME: ccname };
  delete e.KRB5_KTNAME;
  delete e.KRB5_CLIENT_KTNAME;
  return e;
};
const kinit = (env: NodeJS.ProcessEnv) =>
  execFileSync('kinit', ['alice@EXAMPLE.TEST'], { env, input: 'Passw0rd!\n', stdio: ['pipe', 'ignore', 'ignore'] });
const klist = (env: NodeJS.ProcessEnv) => execFileSync('klist', [], { env, encoding: 'utf8' });
const tgsRequests = () =>
  readFileSync(join(kdc.dir, 'kdc.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('TGS_REQ') && l.includes(`alice@EXAMPLE.TEST for ${SPN}`)).length;
const run = (env: NodeJS.ProcessEnv, auth = 'kerberos') =>
  runCli(['run', '-H', `localhost:${new URL(ep.url).port}`, '--auth', auth, '--', 'printenv', 'USERNAME'], { env });

test('FILE: ccache: the service ticket is appended (klist lists it, mode 600), the second run does no TGS exchange', { skip }, async () => {
  const path = join(kdc.dir, 'file.cc');
  const env = envFor(`FILE:${path}`);
  kinit(env);
  assert.doesNotMatch(klist(env), /HTTP\/localhost@EXAMPLE\.TEST/);
  const n0 = tgsRequests();
  const first = await run(env);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout.trim(), 'alice');
  assert.equal(tgsRequests(), n0 + 1, 'the first run asks the KDC for the service ticket');
  const listed = klist(env);
  assert.match(listed, /krbtgt\/EXAMPLE\.TEST@EXAMPLE\.TEST/);
  assert.match(listed, /HTTP\/localhost@EXAMPLE\.TEST/);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const second = await run(env, 'negotiate');
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout.trim(), 'alice');
  assert.equal(tgsRequests(), n0 + 1, 'the second run takes the service ticket from the ccache');
  assert.equal(klist(env).match(/HTTP\/localhost@EXAMPLE\.TEST/g)?.length, 1, 'stored once');
});

test('DIR: ccache collection: the ticket goes into the primary cache, and the second run does no TGS exchange', { skip }, async () => {
  const dir = join(kdc.dir, 'cc-dir');
  const env = envFor(`DIR:${dir}`);
  kinit(env);
  const n0 = tgsRequests();
  assert.equal((await run(env)).code, 0);
  assert.equal(tgsRequests(), n0 + 1);
  assert.match(klist(env), /HTTP\/localhost@EXAMPLE\.TEST/);
  const primary = readFileSync(join(dir, 'primary'), 'utf8').trim();
  assert.equal(statSync(join(dir, primary)).mode & 0o777, 0o600);
  assert.equal((await run(env)).code, 0);
  assert.equal(tgsRequests(), n0 + 1);
});

test(
  'a ccache that belongs to another user is read but never written',
  { skip: skip || (process.getuid?.() === 0 ? false : 'needs root to give the ccache to another user') },
  async () => {
    const path = join(kdc.dir, 'other.cc');
    const env = envFor(`FILE:${path}`);
    kinit(env);
    chownSync(path, 65534, 65534);
    const bytes = readFileSync(path);
    const r = await run(env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'alice');
    assert.deepEqual(readFileSync(path), bytes, 'the file is unchanged');
  },
);
