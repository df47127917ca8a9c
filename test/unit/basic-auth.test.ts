/** Basic (RFC 7617) initiator/acceptor pair, users file parsing, registry. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BasicInitiator, BasicAcceptor, accountOfUsername } from '../../src/auth/basic.js';
import { ntlmUserFields } from '../../src/auth/ntlm/credentials.js';
import { parseUsers } from '../../src/server/users.js';
import { createInitiator, getMechanism, mechanismForScheme } from '../../src/auth/registry.js';
import { AccessDeniedError, InvalidArgumentError } from '../../src/errors.js';

const db = parseUsers('# users\nEXAMPLE\\alice:Passw0rd!\n\nEXAMPLE\\bob:has\\:colons\nlocal:pw\n');

test('initiator <-> acceptor: right, wrong, other forms of the user name', async () => {
  const ok = async (username: string, password: string) => {
    const i = new BasicInitiator({ username, password });
    const tok = await i.step();
    assert.ok(i.complete);
    const a = new BasicAcceptor(db);
    await a.step(tok);
    return a.identity!;
  };
  const id = await ok('EXAMPLE\\alice', 'Passw0rd!');
  assert.deepEqual(
    { ...id, password: id.password === 'Passw0rd!' },
    { domain: 'EXAMPLE', user: 'alice', logonType: 'interactive', password: true, mechanism: 'basic' },
  );
  assert.equal((await ok('alice@example', 'Passw0rd!')).user, 'alice');
  assert.equal((await ok('alice@EXAMPLE.COM', 'Passw0rd!')).domain, 'EXAMPLE');
  assert.equal((await ok('ALICE', 'Passw0rd!')).user, 'alice');
  assert.equal((await ok('EXAMPLE\\bob', 'has:colons')).user, 'bob');
  await assert.rejects(
    ok('EXAMPLE\\alice', 'Zq9-notmine'),
    (e: unknown) => e instanceof AccessDeniedError && !(e as Error).message.includes('Zq9'),
  );
  await assert.rejects(ok('OTHER\\alice', 'Passw0rd!'), AccessDeniedError);
  await assert.rejects(new BasicAcceptor(db).step(new TextEncoder().encode('nocolon')), AccessDeniedError);
  await assert.rejects(new BasicAcceptor(db).step(), AccessDeniedError);
});

test('users file: comments, blanks, errors', () => {
  assert.equal(db.users.length, 3);
  assert.deepEqual(db.lookup('', 'local'), { domain: '', user: 'local', password: 'pw' });
  assert.throws(() => parseUsers('# only comments\n'), InvalidArgumentError);
  assert.throws(() => parseUsers('nopassword\n'), InvalidArgumentError);
  assert.deepEqual(accountOfUsername('D\\u'), { domain: 'D', user: 'u' });
  assert.deepEqual(accountOfUsername('u@d.e'), { domain: 'd.e', user: 'u' });
  // NTLM / CredSSP: a UPN travels whole in UserName
  assert.deepEqual(ntlmUserFields('D\\u'), { domain: 'D', user: 'u' });
  assert.deepEqual(ntlmUserFields('u@d.e'), { domain: '', user: 'u@d.e' });
});

test('registry: basic is registered by name and scheme; unknown names give a clear error', () => {
  assert.equal(getMechanism('BASIC')?.httpScheme, 'Basic');
  assert.equal(mechanismForScheme('basic')?.name, 'basic');
  assert.throws(() => createInitiator('nonesuch', { username: 'u' }, { targetHost: 'h' }), /not available/);
});
