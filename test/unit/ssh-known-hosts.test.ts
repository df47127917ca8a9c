/**
 * known_hosts parsing and host-key verdicts (sshd(8) SSH_KNOWN_HOSTS FILE FORMAT), the `pwsh -sshs` error-line
 * filter, and host/port splitting. Vectors: host keys, fingerprints and the hashed line were produced by
 * OpenSSH 9.2 (`ssh-keygen -t ...`, `ssh-keygen -lf`, `ssh-keygen -H`) on this project's CI image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkHostKey,
  entryMatchesHost,
  fingerprintSha256,
  hashHostName,
  keyBlobType,
  knownHostName,
  knownKeyTypes,
  parseKnownHosts,
} from '../../src/remoting/ssh-known-hosts.js';
import { hostKeyAlgorithms, SshsOutputFilter } from '../../src/remoting/ssh.js';
import { splitHostPort } from '../../src/client/ssh-session.js';
import { fromBase64 } from '../../src/util/bytes.js';

const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIEmd88DHL92CTxUktHGrl9w1A2tGgVip/8HQnylQCqIy';
const ED_FP = 'SHA256:Qm6O1a46tjmkdxC+iY1EOHyJr5PpyTT7IsO3IpVGxt0';
const RSA =
  'AAAAB3NzaC1yc2EAAAADAQABAAAAgQDDkadau98Uoora2xnXcwfvqYjaqouDlAiJjAnTPUfp/4CIlkVP/KKsqcozQfUPDveMRKA2' +
  'vRARhnuOjyAhtJWP82uhgHH7MkNEy5I1n87kS47EB+41+kJ4qRbhW96F+q4ZuGn9ciWYioNW2x29UAQVMSSbBX4gVWnAjm+4C/0g' +
  'IQ==';
const RSA_FP = 'SHA256:QPO2vAlUPxquyYH6wqmhzrVVsb3t8ASGrJlvRRp+f7s';
const EC =
  'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGWepe0sQp8XXQQvCgMNbt9pNK/erJdY8q1qSiR0WnDbFCaI' +
  'CsqmNc8TXqM6We9DE45RE2N4ox7b9VJw/2nEhfM=';
const EC_FP = 'SHA256:MdNhtUnlExZuAUjgFJBhCY6Sj9h+H92dMchFgiynyhM';
/** `ssh-keygen -H` of "[127.0.0.1]:33959 ssh-ed25519 ED" */
const HASHED = `|1|Y95AkAn8JfwozBExhnLdCCWAano=|75TDH0nnG8QiJNwt1msJXEU7j+U= ssh-ed25519 ${ED}`;

test('fingerprints and key types match OpenSSH', () => {
  assert.equal(fingerprintSha256(fromBase64(ED)), ED_FP);
  assert.equal(fingerprintSha256(fromBase64(RSA)), RSA_FP);
  assert.equal(fingerprintSha256(fromBase64(EC)), EC_FP);
  assert.equal(keyBlobType(fromBase64(ED)), 'ssh-ed25519');
  assert.equal(keyBlobType(fromBase64(RSA)), 'ssh-rsa');
  assert.equal(keyBlobType(fromBase64(EC)), 'ecdsa-sha2-nistp256');
  assert.equal(keyBlobType(new Uint8Array([0, 0, 0, 9, 1])), undefined);
  assert.equal(keyBlobType(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x41])), undefined);
});

test('host names: [host]:port off port 22, lower case', () => {
  assert.equal(knownHostName('Server.Example.COM', 22), 'server.example.com');
  assert.equal(knownHostName('127.0.0.1', 2222), '[127.0.0.1]:2222');
  assert.equal(knownHostName('[::1]', 2222), '[::1]:2222');
});

test('hashed entries: the OpenSSH vector matches its host only, and hashHostName reproduces it', () => {
  const { entries, skipped } = parseKnownHosts(HASHED + '\n');
  assert.deepEqual(skipped, []);
  assert.equal(entries.length, 1);
  assert.ok(entryMatchesHost(entries[0]!, '[127.0.0.1]:33959'));
  assert.ok(!entryMatchesHost(entries[0]!, '[127.0.0.1]:33958'));
  assert.ok(!entryMatchesHost(entries[0]!, '127.0.0.1'));
  assert.equal(hashHostName('[127.0.0.1]:33959', entries[0]!.hashed!.salt), HASHED.split(' ')[0]);
  assert.deepEqual(checkHostKey(entries, '127.0.0.1', 33959, fromBase64(ED)), { status: 'known', line: 1 });
  assert.deepEqual(checkHostKey(entries, '127.0.0.1', 22, fromBase64(ED)), { status: 'unknown', otherTypes: [] });
});

test('patterns: lists, wildcards, negation, comments, markers', () => {
  const text = [
    '# a comment',
    '',
    `web1.example.com,10.0.0.5 ssh-ed25519 ${ED} comment here`,
    `*.lab.example.com,!bad.lab.example.com ssh-rsa ${RSA}`,
    `[db?.example.com]:2200 ecdsa-sha2-nistp256 ${EC}`,
    `@cert-authority *.example.com ssh-ed25519 ${ED}`,
  ].join('\r\n');
  const { entries, skipped } = parseKnownHosts(text);
  assert.deepEqual(skipped, []);
  assert.equal(entries.length, 4);
  const ed = fromBase64(ED),
    rsa = fromBase64(RSA),
    ec = fromBase64(EC);
  assert.equal(checkHostKey(entries, 'WEB1.example.com', 22, ed).status, 'known');
  assert.equal(checkHostKey(entries, '10.0.0.5', 22, ed).status, 'known');
  assert.equal(checkHostKey(entries, 'x.lab.example.com', 22, rsa).status, 'known');
  assert.equal(checkHostKey(entries, 'bad.lab.example.com', 22, rsa).status, 'unknown', 'a matching !pattern excludes the entry');
  assert.equal(checkHostKey(entries, 'db1.example.com', 2200, ec).status, 'known');
  assert.equal(checkHostKey(entries, 'db1.example.com', 22, ec).status, 'unknown', 'the port is part of the name');
  assert.equal(checkHostKey(entries, 'db12.example.com', 2200, ec).status, 'unknown', '? is exactly one character');
  // @cert-authority never vouches for a plain key
  assert.equal(checkHostKey(entries, 'other.example.com', 22, ed).status, 'unknown');
  assert.deepEqual(knownKeyTypes(entries, 'x.lab.example.com', 22), ['ssh-rsa']);
});

test('changed, revoked and known-with-other-types verdicts', () => {
  const text = `host1 ssh-ed25519 ${ED}\nhost2 ecdsa-sha2-nistp256 ${EC}\n@revoked * ssh-rsa ${RSA}\n`;
  const { entries } = parseKnownHosts(text);
  const otherEd = fromBase64(ED);
  otherEd[otherEd.length - 1] ^= 1;
  assert.deepEqual(checkHostKey(entries, 'host1', 22, otherEd), { status: 'changed', line: 1, knownType: 'ssh-ed25519' });
  assert.deepEqual(checkHostKey(entries, 'host1', 22, fromBase64(RSA)), { status: 'revoked', line: 3 });
  assert.deepEqual(checkHostKey(entries, 'host2', 22, fromBase64(ED)), { status: 'unknown', otherTypes: ['ecdsa-sha2-nistp256'] });
  // a changed key is reported even if another line of the same host matches another type
  assert.equal(checkHostKey(parseKnownHosts(`h ssh-ed25519 ${ED}\nh ssh-ed25519 ${ED}`).entries, 'h', 22, otherEd).status, 'changed');
});

test('malformed lines are skipped with a reason, never fatal', () => {
  const text = [
    'justonefield',
    'host ssh-ed25519',
    'host ssh-ed25519 !!!notbase64',
    `host ssh-rsa ${ED}`,
    '|1|short|x= ssh-ed25519 ' + ED,
    '@weird host ssh-ed25519 ' + ED,
    `ok ssh-ed25519 ${ED}`,
  ].join('\n');
  const { entries, skipped } = parseKnownHosts(text);
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.line, 7);
  assert.deepEqual(
    skipped.map((s) => s.line),
    [1, 2, 3, 4, 5, 6],
  );
  assert.match(skipped[3]!.why, /ssh-ed25519, not ssh-rsa/);
});

test('host key algorithms prefer the types already known', () => {
  assert.equal(hostKeyAlgorithms([])[0], 'ssh-ed25519');
  assert.deepEqual(hostKeyAlgorithms(['ssh-rsa']).slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.equal(hostKeyAlgorithms(['ecdsa-sha2-nistp384'])[0], 'ecdsa-sha2-nistp384');
  assert.equal(new Set(hostKeyAlgorithms(['ssh-ed25519', 'sk-unknown'])).size, hostKeyAlgorithms([]).length);
});

test('splitHostPort', () => {
  assert.deepEqual(splitHostPort('srv'), { host: 'srv', port: 22 });
  assert.deepEqual(splitHostPort('srv:2222'), { host: 'srv', port: 2222 });
  assert.deepEqual(splitHostPort('srv:2222', 3333), { host: 'srv', port: 3333 });
  assert.deepEqual(splitHostPort('[::1]:2222'), { host: '::1', port: 2222 });
  assert.deepEqual(splitHostPort('::1'), { host: '::1', port: 22 });
  assert.throws(() => splitHostPort('srv:99999'), { name: 'InvalidArgumentError' });
});

/** Feed `text` to the filter in the given chunk sizes; return passed-through text and error lines. */
function filterAll(text: string, sizes: number[]): { data: string; errors: string[] } {
  const bytes = new TextEncoder().encode(text);
  const f = new SshsOutputFilter();
  const parts: Uint8Array[] = [];
  const errors: string[] = [];
  let i = 0,
    k = 0;
  while (i < bytes.length) {
    const n = sizes[k++ % sizes.length]!;
    const r = f.push(bytes.subarray(i, i + n));
    parts.push(...r.data.map((d) => d.slice()));
    errors.push(...r.errors);
    i += n;
  }
  return { data: Buffer.concat(parts).toString('utf8'), errors };
}

test('SshsOutputFilter: __NamedPipeError__ lines (and their stack lines) are split out at any chunking', () => {
  const packet = "<DataAck PSGuid='00000000-0000-0000-0000-000000000000' />\n";
  const text =
    packet +
    '__NamedPipeError__: the server failed\r\n   at Some.Stack(Frame)\n\tat Another\n' +
    'x__NamedPipeError__: not at line start\n' +
    '__NamedPipe is only a prefix\n' +
    packet +
    '__NamedPipeError__:tail';
  const expectedData = packet + 'x__NamedPipeError__: not at line start\n' + '__NamedPipe is only a prefix\n' + packet;
  for (const sizes of [[text.length], [1], [2, 3], [7], [19, 1], [64]]) {
    const r = filterAll(text, sizes);
    assert.equal(r.data, expectedData, `chunks ${sizes}`);
    assert.deepEqual(r.errors, ['the server failed'], `chunks ${sizes}`);
  }
});

test('SshsOutputFilter: an endless error line is bounded', () => {
  const f = new SshsOutputFilter();
  f.push(new TextEncoder().encode('__NamedPipeError__:'));
  const big = new Uint8Array(1 << 20).fill(0x41);
  for (let i = 0; i < 8; i++) assert.deepEqual(f.push(big), { data: [], errors: [] });
  const r = f.push(new Uint8Array([0x0a]));
  assert.equal(r.errors.length, 1);
  assert.ok(r.errors[0]!.length <= 4096);
});
