/** The users file (src/server/users.ts) and the account rules built on it (src/server/accounts.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseUsers, splitFields, loadUsersFile, type UserRecord } from '../../src/server/users.js';
import { planAccounts, type LocalAccount } from '../../src/server/accounts.js';
import { logonEnvironment } from '../../src/server/spawn.js';
import { InvalidArgumentError } from '../../src/errors.js';
import type { AcceptedIdentity } from '../../src/auth/types.js';

test('users file: the four forms, each with and without an account', () => {
  const db = parseUsers(
    [
      'EXAMPLE\\alice:Passw0rd!',
      'EXAMPLE\\bob:B0b:wts-bob',
      'local:pw',
      'EXAMPLE\\carol:cert:carol@example.com',
      'EXAMPLE\\dave:cert:dave@example.com:wts-dave',
      'erin@EXAMPLE.COM:*',
      'frank@corp.example.com:*:wts-frank',
    ].join('\n'),
  );
  const r = (i: number) => db.users[i]!;
  assert.deepEqual(r(0), { domain: 'EXAMPLE', user: 'alice', password: 'Passw0rd!' });
  assert.deepEqual(r(1), { domain: 'EXAMPLE', user: 'bob', password: 'B0b', account: 'wts-bob' });
  assert.deepEqual(r(2), { domain: '', user: 'local', password: 'pw' });
  assert.deepEqual(r(3), { domain: 'EXAMPLE', user: 'carol', certName: 'carol@example.com' });
  assert.deepEqual(r(4), { domain: 'EXAMPLE', user: 'dave', certName: 'dave@example.com', account: 'wts-dave' });
  assert.deepEqual(r(5), { domain: 'EXAMPLE', user: 'erin', kerberosPrincipal: 'erin@EXAMPLE.COM' });
  assert.deepEqual(r(6), { domain: 'CORP', user: 'frank', kerberosPrincipal: 'frank@corp.example.com', account: 'wts-frank' });
  assert.equal(db.findPrincipal('FRANK@CORP.EXAMPLE.COM'), r(6));
  assert.equal(db.findCertificate('Dave@Example.com'), r(4));
  assert.equal(db.where(r(4)), 'line 5');
});

test('users file: password acceptors never see a record without a password', () => {
  const db = parseUsers('EXAMPLE\\carol:cert:carol@example.com\nerin@EXAMPLE.COM:*\nEXAMPLE\\alice:pw\n');
  assert.equal(db.lookup('EXAMPLE', 'carol'), undefined);
  assert.equal(db.lookup('', 'carol'), undefined);
  assert.equal(db.lookup('EXAMPLE', 'erin'), undefined);
  assert.equal(db.lookup('example.com', 'erin'), undefined);
  assert.equal(db.find('EXAMPLE', 'carol')?.certName, 'carol@example.com');
  assert.equal(db.find('example.com', 'erin')?.kerberosPrincipal, 'erin@EXAMPLE.COM');
  assert.equal(db.lookup('example', 'ALICE')?.password, 'pw');
});

test('users file: a colon or backslash inside a password is escaped; other backslashes are literal', () => {
  assert.deepEqual(splitFields('a\\:b:c'), ['a:b', 'c']);
  assert.deepEqual(splitFields('a\\\\:c'), ['a\\', 'c']);
  assert.deepEqual(splitFields('a\\b'), ['a\\b']);
  const db = parseUsers('EXAMPLE\\alice:pa\\:ss\\w0rd:wts-alice\nEXAMPLE\\bob:C\\:\\\\:wts-bob\nEXAMPLE\\eve: spaced pw \n');
  assert.equal(db.users[0]!.password, 'pa:ss\\w0rd');
  assert.equal(db.users[0]!.account, 'wts-alice');
  assert.equal(db.users[1]!.password, 'C:\\');
  assert.equal(db.users[2]!.password, ' spaced pw ', 'a two-field line keeps its password verbatim');
});

test('users file: mistakes are refused with the line and the fix', () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(
      () => parseUsers(text, 'u.txt'),
      (e: unknown) => e instanceof InvalidArgumentError && re.test((e as Error).message),
      text,
    );
  bad('EXAMPLE\\bob:has:colons:too\n', /u\.txt line 1: too many ':'.*'\\:'/);
  bad('# x\nEXAMPLE\\bob:pw:not an account\n', /line 2: 'not an account' is not a local account name/);
  bad('EXAMPLE\\bob:pw:\n', /is not a local account name/);
  bad('EXAMPLE\\carol:cert\n', /needs the certificate's UPN/);
  bad('EXAMPLE\\carol:cert:c@x:acct:more\n', /too many fields/);
  bad('EXAMPLE\\erin:*\n', /names a principal: user@REALM/);
  bad('nopassword\n', /expected DOMAIN\\user:password/);
  bad(':pw\n', /expected/);
  bad('# only comments\n\n', /has no users/);
});

const self: LocalAccount = { name: 'svc', uid: 1000, gid: 1000, home: '/home/svc', shell: '/bin/sh', own: true };
const rootSelf: LocalAccount = { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/bash', own: true };
const accounts: Record<string, LocalAccount> = {
  'wts-alice': { name: 'wts-alice', uid: 999, gid: 995, home: '/home/wts-alice', shell: '/bin/sh', own: false },
  'wts-bob': { name: 'wts-bob', uid: 998, gid: 994, home: '/home/wts-bob', shell: '/bin/sh', own: false },
  svc: { ...self, own: false },
  root: { ...rootSelf, own: false },
};
const lookup = (n: string) => accounts[n];
const id = (domain: string, user: string, mechanism: AcceptedIdentity['mechanism'] = 'ntlm'): AcceptedIdentity => ({
  domain,
  user,
  mechanism,
  logonType: 'network',
});

test('accounts: as root, each entry runs as its own account; unknown logons get no account', () => {
  const db = parseUsers('EXAMPLE\\alice:a:wts-alice\nEXAMPLE\\bob:b:wts-bob\nerin@EXAMPLE.COM:*:wts-bob\n');
  const plan = planAccounts(db, { self: rootSelf, root: true, lookup, setpriv: '/usr/bin/setpriv' });
  assert.equal(plan.accountFor(id('EXAMPLE', 'alice'))?.name, 'wts-alice');
  assert.equal(plan.accountFor(id('example.com', 'BOB', 'basic'))?.name, 'wts-bob');
  assert.equal(plan.accountFor(id('EXAMPLE.COM', 'erin', 'kerberos'))?.name, 'wts-bob');
  assert.equal(plan.accountFor(id('EXAMPLE', 'mallory')), undefined, 'never the endpoint (root) account for a logon outside the file');
  assert.equal(plan.rootLogons, false);
  assert.deepEqual(plan.summary, [
    "logons of EXAMPLE\\alice run as 'wts-alice' (uid 999)",
    "logons of EXAMPLE\\bob run as 'wts-bob' (uid 998)",
    "logons of erin@EXAMPLE.COM run as 'wts-bob' (uid 998)",
  ]);
});

test('accounts: one user without an account runs as the endpoint; as root that is said loudly', () => {
  const one = parseUsers('EXAMPLE\\alice:a\n');
  const p = planAccounts(one, { self, root: false, lookup });
  assert.equal(p.accountFor(id('EXAMPLE', 'alice')), self);
  assert.equal(p.rootLogons, false);
  assert.match(p.summary[0]!, /EXAMPLE\\alice run as this endpoint's own account 'svc' \(uid 1000\)/);
  const r = planAccounts(one, { self: rootSelf, root: true, lookup });
  assert.equal(r.rootLogons, true);
  const mappedRoot = planAccounts(parseUsers('EXAMPLE\\alice:a:root\n'), { self: rootSelf, root: true, lookup });
  assert.equal(mappedRoot.rootLogons, true);
});

test('accounts: several users need an account each, or --single-account', () => {
  const two = parseUsers('EXAMPLE\\alice:a:wts-alice\nEXAMPLE\\bob:b\n');
  assert.throws(
    () => planAccounts(two, { self: rootSelf, root: true, lookup, setpriv: '/x' }),
    (e: unknown) =>
      e instanceof InvalidArgumentError && /2 users and EXAMPLE\\bob names no local account.*--single-account/.test((e as Error).message),
  );
  const p = planAccounts(two, { self: rootSelf, root: true, lookup, singleAccount: true, setpriv: '/x' });
  assert.equal(p.accountFor(id('EXAMPLE', 'bob'))?.name, 'root');
  assert.equal(p.accountFor(id('EXAMPLE', 'alice'))?.name, 'wts-alice');
  assert.equal(p.accountFor(id('EXAMPLE', 'mallory')), p.own, 'with --single-account every logon may share the endpoint account');
  assert.equal(p.rootLogons, true);
  assert.match(p.summary.join('\n'), /1 user without an account \(EXAMPLE\\bob\) share this endpoint's own account 'root'/);
});
test('accounts: entries of one user (password, certificate, Kerberos principal) are one user, not several', () => {
  const db = parseUsers('EXAMPLE\\alice:pw\nEXAMPLE\\alice:cert:alice@example.test\nalice@EXAMPLE.TEST:*\nalice@EXAMPLE.TEST:pw\n');
  const p = planAccounts(db, { self: rootSelf, root: true, lookup });
  assert.equal(p.accountFor(id('EXAMPLE', 'alice')), p.own);
  assert.match(p.summary.join('\n'), /logons of EXAMPLE\\alice run as this endpoint's own account/);
  assert.throws(
    () => planAccounts(parseUsers('EXAMPLE\\alice:pw\nbob@EXAMPLE.TEST:*\n'), { self: rootSelf, root: true, lookup }),
    (e: unknown) => e instanceof InvalidArgumentError && /2 users/.test((e as Error).message),
  );
});

test('accounts: not root -> an entry naming another account refuses the start; its own account is fine', () => {
  const other = parseUsers('EXAMPLE\\alice:a:wts-alice\n');
  assert.throws(
    () => planAccounts(other, { self, root: false, lookup }),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      /line 1: EXAMPLE\\alice runs as 'wts-alice', but this endpoint runs as 'svc' \(uid 1000\), not root/.test((e as Error).message),
  );
  const mine = planAccounts(parseUsers('EXAMPLE\\alice:a:svc\nEXAMPLE\\bob:b:svc\n'), { self, root: false, lookup });
  assert.equal(mine.accountFor(id('EXAMPLE', 'bob'))?.own, true);
  assert.throws(
    () => planAccounts(parseUsers('EXAMPLE\\alice:a:nosuch\n'), { self: rootSelf, root: true, lookup }),
    /no such local account.*useradd/,
  );
  assert.throws(() => planAccounts(other, { self: rootSelf, root: true, lookup, setpriv: undefined }), /setpriv/);
});

test("accounts: a clean environment from the account, never the endpoint's TERM or secrets", () => {
  const saved = {
    TERM: process.env.TERM,
    NODE_OPTIONS: process.env.NODE_OPTIONS,
    LANG: process.env.LANG,
    SECRET_TOKEN: process.env.SECRET_TOKEN,
  };
  Object.assign(process.env, { TERM: 'xterm-256color', NODE_OPTIONS: '--inspect', LANG: 'C.UTF-8', SECRET_TOKEN: 'x' });
  try {
    const env = logonEnvironment(accounts['wts-alice']!, ['DOTNET_ROOT', 'HOME']);
    assert.equal(env.HOME, '/home/wts-alice');
    assert.equal(env.USER, 'wts-alice');
    assert.equal(env.LOGNAME, 'wts-alice');
    assert.equal(env.SHELL, '/bin/sh');
    assert.equal(env.PATH, '/usr/local/bin:/usr/bin:/bin');
    assert.equal(env.LANG, 'C.UTF-8');
    for (const k of ['TERM', 'NODE_OPTIONS', 'SECRET_TOKEN', 'TMPDIR']) assert.equal(env[k], undefined, k);
    assert.equal(logonEnvironment(accounts.root!).PATH, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    const mine = logonEnvironment(self);
    assert.equal(mine.PATH, process.env.PATH);
    assert.equal(mine.TERM, undefined);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

test('users file on disk: refused unless private, naming the file and chmod 600', { skip: process.platform === 'win32' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-users-'));
  const f = join(dir, 'users');
  writeFileSync(f, 'EXAMPLE\\alice:pw\n');
  chmodSync(f, 0o644);
  assert.throws(
    () => loadUsersFile(f),
    (e: unknown) =>
      e instanceof InvalidArgumentError && (e as Error).message.includes(f) && /mode 0644.*chmod 600/.test((e as Error).message),
  );
  chmodSync(f, 0o640);
  assert.throws(() => loadUsersFile(f), /chmod 600/);
  chmodSync(f, 0o600);
  const recs: UserRecord[] = loadUsersFile(f).users;
  assert.equal(recs.length, 1);
});
