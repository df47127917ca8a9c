/**
 * The client's sharp edges, pure parts: certificate pins in every common form (and a malformed one refused before any
 * connection), Basic over plain HTTP refused without allowUnencrypted, `ps` text formatting of cyclic and
 * exponentially shared values (bounded, as --json is), the library's argument quoting (as the CLI's), and the
 * WS-Man action read from an envelope (the resend rule).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect, InvalidArgumentError, commandLineParts, quoteArg as libQuote, deserialize } from '../../src/index.js';
import { HttpTransport, parseCertificatePin, envelopeAction } from '../../src/http/transport.js';
import { quoteArg as cliQuote } from '../../src/cli/options.js';
import { formatValue } from '../../src/cli/format.js';
import { buildRequest } from '../../src/wsman/envelope.js';
import { Action } from '../../src/wsman/ns.js';

const der = Buffer.from('a certificate, as far as a hash is concerned');
const s256 = createHash('sha256').update(der).digest();
const s1 = createHash('sha1').update(der).digest();

test('--fingerprint: SHA256:hex, SHA256:base64, openssl AA:BB:..., bare hex, SHA-1 thumbprints (Windows form)', () => {
  const hex = s256.toString('hex');
  const forms = [
    `SHA256:${hex}`,
    `sha256:${hex.toUpperCase()}`,
    `SHA-256:${hex}`,
    `SHA256:${s256.toString('base64').replace(/=+$/, '')}`,
    `SHA256:${s256.toString('base64')}`,
    hex.toUpperCase().match(/../g)!.join(':'), // openssl x509 -fingerprint -sha256 (after the '=')
    `SHA256 Fingerprint=${hex.toUpperCase().match(/../g)!.join(':')}`.replace('SHA256 Fingerprint=', 'SHA256='),
    hex,
    ` ${hex} `,
  ];
  for (const f of forms) {
    const p = parseCertificatePin(f);
    assert.equal(p.algorithm, 'sha256', f);
    assert.deepEqual(Buffer.from(p.digest), s256, f);
  }
  const thumb = s1.toString('hex').toUpperCase();
  for (const f of [
    thumb,
    thumb.toLowerCase(),
    `SHA1:${thumb}`,
    `\u200e${thumb}`,
    thumb.match(/../g)!.join(' '),
    thumb.match(/../g)!.join(':'),
  ]) {
    const p = parseCertificatePin(f);
    assert.equal(p.algorithm, 'sha1', f);
    assert.deepEqual(Buffer.from(p.digest), s1, f);
  }
});

test('--fingerprint: malformed values fail at once with what is accepted', () => {
  for (const bad of [
    'MD5:abc',
    'SHA256:abcd',
    'abc',
    'zz'.repeat(32),
    'SHA1:' + 'ab'.repeat(32),
    'SHA256:' + 'ab'.repeat(20),
    '',
    'not a fingerprint at all',
  ]) {
    assert.throws(
      () => parseCertificatePin(bad),
      (e: Error) => e instanceof InvalidArgumentError && /SHA256:<hex>/.test(e.message),
      bad,
    );
  }
  // the client refuses it when constructed: no connection, no connect timeout to wait for
  assert.throws(
    () => connect({ host: '192.0.2.1', https: true, username: 'u', password: 'p', auth: 'basic', fingerprint: 'SHA256:xyz' }),
    InvalidArgumentError,
  );
});

test('a SHA-1 thumbprint pin works with a note that SHA-1 is weaker', () => {
  const warnings: string[] = [];
  const t = new HttpTransport({
    url: 'https://127.0.0.1:5986/wsman',
    tls: { fingerprint: s1.toString('hex') },
    onWarning: (w) => warnings.push(w),
  });
  assert.equal(t.pin?.algorithm, 'sha1');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /SHA-1 is weaker/);
  t.close();
});

test('Basic over plain HTTP is refused unless allowUnencrypted, with a message naming --https', () => {
  assert.throws(
    () => connect({ host: '127.0.0.1', username: 'EXAMPLE\\alice', password: 'Zq9-secret', auth: 'basic' }),
    (e: Error) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.match(e.message, /--https/);
      assert.match(e.message, /--allow-unencrypted/);
      assert.ok(!e.message.includes('Zq9-secret'));
      return true;
    },
  );
  connect({ host: '127.0.0.1', username: 'EXAMPLE\\alice', password: 'p', auth: 'basic', allowUnencrypted: true }).close();
  connect({ host: '127.0.0.1', https: true, username: 'EXAMPLE\\alice', password: 'p', auth: 'basic' }).close();
});

test('ps text output: a cyclic list prints [Circular]; a value shared exponentially is cut off, not expanded', () => {
  const cyclic = deserialize(
    '<Obj RefId="0"><TN RefId="0"><T>System.Collections.ArrayList</T><T>System.Object</T></TN><LST><S>a</S><Ref RefId="0" /></LST></Obj>',
  );
  assert.equal(formatValue(cyclic), 'a\n[Circular]');
  const dict = deserialize(
    '<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T></TN><DCT><En><S N="Key">self</S><Ref N="Value" RefId="0" ' +
      '/></En></DCT></Obj>',
  );
  assert.match(formatValue(dict)!, /self\s+\[Circular\]/);
  // 40 levels of [a, a] where a is the level below: 2^40 leaves through shared references
  let xml = '<S>leaf</S>';
  for (let i = 1; i <= 40; i++)
    xml = `<Obj RefId="${i}"><TN RefId="${i}"><T>System.Object[]</T></TN><LST>${xml}<Ref RefId="${i - 1}" /></LST></Obj>`;
  xml = xml.replace('<Ref RefId="0" />', '<S>leaf</S>');
  const deep = deserialize(xml);
  const text = formatValue(deep)!;
  assert.ok(text.length < 10_000_000, `bounded output (${text.length} chars)`);
  assert.match(text, /…/);
});

test('library shell.run quotes arguments as the CLI does; one operand is a whole command line', () => {
  const args = ['exit 7', 'echo out; echo err 1>&2', '日本語 ✓', "it's", 'a "quoted" word', '', 'plain', 'C:\\Program Files\\'];
  for (const a of args) assert.equal(libQuote(a), cliQuote(a));
  assert.deepEqual(commandLineParts('echo hi there'), { command: 'echo hi there', args: [] });
  assert.deepEqual(commandLineParts('printf', ['%s|', 'a b']), { command: 'printf', args: ['"%s|"', '"a b"'] });
  assert.deepEqual(commandLineParts('printf', ['"pre quoted"'], true), { command: 'printf', args: ['"pre quoted"'] });
  const line = commandLineParts('printf', ['%s|', ...args.slice(0, 6)]);
  assert.equal(
    execFileSync('/bin/sh', ['-c', [line.command, ...line.args].join(' ')]).toString(),
    args
      .slice(0, 6)
      .map((a) => `${a}|`)
      .join(''),
  );
});

test('the WS-Man action of an envelope (what the resend rule looks at)', () => {
  for (const a of [Action.Command, Action.Receive, Action.Get, Action.Delete, Action.Signal]) {
    const { xml } = buildRequest(
      {
        action: a,
        resourceUri: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd',
        to: 'http://h:5985/wsman',
        sessionId: 'uuid:1',
        maxEnvelopeSize: 153600,
        operationTimeout: 20,
      },
      '',
    );
    assert.equal(envelopeAction(xml), a);
  }
  assert.equal(envelopeAction('<x/>'), undefined);
});
