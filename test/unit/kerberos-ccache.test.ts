/**
 * storeCredential: a service ticket appended to an MIT FILE ccache (format 4) leaves every earlier byte as it was;
 * a cache of another principal, a missing file or a non-ccache are refused with the reason, and never created.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCCache, storeCredential, writeCCache, type Credential, type Principal } from '../../src/auth/kerberos/ccache.js';
import { NameType } from '../../src/auth/kerberos/messages.js';

const p = (realm: string, ...names: string[]): Principal => ({
  name: { nameType: names.length > 1 ? NameType.SRV_INST : NameType.PRINCIPAL, nameString: names },
  realm,
});
const alice = p('EXAMPLE.TEST', 'alice');
const cred = (client: Principal, server: Principal, fill: number): Credential => ({
  client,
  server,
  key: { etype: 18, value: new Uint8Array(32).fill(fill) },
  authtime: new Date(1_700_000_000_000),
  starttime: new Date(1_700_000_000_000),
  endtime: new Date(1_700_036_000_000),
  flags: 0x40e10000,
  ticket: new Uint8Array([0x61, 3, 1, 2, fill]),
});

test('a service ticket is appended after the existing bytes, and the cache reads back with both', () => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-cc-'));
  try {
    const file = join(dir, 'cc');
    writeCCache(`FILE:${file}`, { defaultPrincipal: alice, credentials: [cred(alice, p('EXAMPLE.TEST', 'krbtgt', 'EXAMPLE.TEST'), 1)] });
    const before = readFileSync(file);
    assert.equal(storeCredential(`FILE:${file}`, cred(alice, p('EXAMPLE.TEST', 'HTTP', 'localhost'), 2)), undefined);
    const after = readFileSync(file);
    assert.deepEqual(after.subarray(0, before.length), before);
    const cc = readCCache(`FILE:${file}`)!;
    assert.deepEqual(
      cc.credentials.map((c) => c.server.name.nameString.join('/')),
      ['krbtgt/EXAMPLE.TEST', 'HTTP/localhost'],
    );
    assert.deepEqual(cc.credentials[1], cred(alice, p('EXAMPLE.TEST', 'HTTP', 'localhost'), 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('refusals: another principal, no file (not created), not a ccache, an unsupported cache type', () => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-cc-'));
  try {
    const file = join(dir, 'cc');
    const bob = p('EXAMPLE.TEST', 'bob');
    writeCCache(`FILE:${file}`, { defaultPrincipal: bob, credentials: [] });
    const before = readFileSync(file);
    assert.match(storeCredential(`FILE:${file}`, cred(alice, p('EXAMPLE.TEST', 'HTTP', 'x'), 3))!, /another principal/);
    assert.deepEqual(readFileSync(file), before);
    const missing = join(dir, 'none');
    assert.match(storeCredential(`FILE:${missing}`, cred(alice, p('EXAMPLE.TEST', 'HTTP', 'x'), 3))!, /cannot open/);
    assert.equal(existsSync(missing), false);
    const junk = join(dir, 'junk');
    writeFileSync(junk, 'not a ccache');
    assert.match(storeCredential(`FILE:${junk}`, cred(alice, p('EXAMPLE.TEST', 'HTTP', 'x'), 3))!, /not an MIT ccache/);
    assert.equal(readFileSync(junk, 'utf8'), 'not a ccache');
    assert.match(storeCredential('KEYRING:persistent:0', cred(alice, p('EXAMPLE.TEST', 'HTTP', 'x'), 3))!, /KEYRING.*not supported/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
