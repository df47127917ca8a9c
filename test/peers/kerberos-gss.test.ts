/**
 * Interop of our GSS-API Kerberos mechanism with MIT krb5's (python3-gssapi), on a real MIT KDC:
 * our AP-REQ accepted by MIT (raw krb5 and SPNEGO, with delegation), MIT's AP-REQ accepted by us (raw and SPNEGO,
 * with delegation), and RFC 4121 wrap/unwrap both ways (WinRM's RRC 28 layout from us, MIT's own layout from MIT).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { hasDebPackage, peerSkip } from '../helpers/peers.js';
import { kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { Krb5Peer } from './fixtures/krb5-peer.js';
import { KerberosAcceptor, KerberosInitiator } from '../../src/auth/kerberos/context.js';
import { SpnegoKerberosInitiator } from '../../src/auth/kerberos/index.js';
import { SpnegoAcceptor } from '../../src/auth/spnego/context.js';
import { decryptMessage, frameParts } from '../../src/encryption/mime.js';
import { networkKdc } from '../../src/kdc/network.js';
import { loadKrb5Config } from '../../src/auth/kerberos/config.js';
import { readKeytab } from '../../src/auth/kerberos/ccache.js';
import { decodeCCache } from '../../src/auth/kerberos/ccache.js';
import { parseUsers } from '../../src/server/users.js';
import { utf8, fromUtf8 } from '../../src/util/bytes.js';

const skip = kdcSkip() || peerSkip('python3-gssapi', hasDebPackage('python3-gssapi'));
let kdc: Kdc;
before(async () => {
  if (!skip) kdc = await startKdc();
});
after(() => kdc?.stop());

const users = () => parseUsers('EXAMPLE\\alice:Passw0rd!\nalice@EXAMPLE.TEST:*\n');
const ours = (o: { delegate?: boolean; scheme?: string } = {}) =>
  new KerberosInitiator({
    credentials: { username: 'alice@EXAMPLE.TEST', password: 'Passw0rd!' },
    targetHost: 'localhost',
    config: loadKrb5Config({ KRB5_CONFIG: kdc.krb5Conf }),
    send: networkKdc({ config: loadKrb5Config({ KRB5_CONFIG: kdc.krb5Conf }) }),
    env: { KRB5_CONFIG: kdc.krb5Conf },
    onWarning: () => undefined,
    ...(o.delegate ? { delegate: true } : {}),
    ...(o.scheme ? { httpScheme: o.scheme } : {}),
  });
const acceptorEnv = () => ({ KRB5_CONFIG: kdc.krb5Conf, KRB5_KTNAME: `FILE:${kdc.httpKeytab}` });
function mitInitiatorEnv(): Record<string, string> {
  const cc = `FILE:${join(kdc.dir, 'mit-init.cc')}`;
  execFileSync('kinit', ['-f', 'alice@EXAMPLE.TEST'], {
    env: { ...process.env, KRB5_CONFIG: kdc.krb5Conf, KRB5CCNAME: cc },
    input: 'Passw0rd!\n',
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  return { KRB5_CONFIG: kdc.krb5Conf, KRB5CCNAME: cc };
}

test('our initiator -> MIT acceptor (raw krb5): mutual auth, delegation, wrap/unwrap both ways', { skip }, async () => {
  for (const delegate of [false, true]) {
    const peer = new Krb5Peer('accept', 'krb5', acceptorEnv());
    try {
      const me = ours({ delegate });
      const tok = await me.step();
      const rep = await peer.token(tok!);
      assert.equal(rep.complete, true);
      await me.step(rep.token);
      assert.equal(me.complete, true);
      const info = await peer.info();
      assert.equal(info.peer, 'alice@EXAMPLE.TEST');
      assert.equal(info.deleg, delegate);
      const w = await me.wrapWinrm(utf8('<s:Envelope>from winrm-ts</s:Envelope>'));
      assert.equal(w.header.length, 60);
      const u = await peer.unwrap(new Uint8Array([...w.header, ...w.data]));
      assert.equal(fromUtf8(u.data), '<s:Envelope>from winrm-ts</s:Envelope>');
      assert.equal(u.encrypted, true);
      const back = await peer.wrap(utf8('reply from MIT'));
      assert.equal(fromUtf8(me.security!.unwrap(back)), 'reply from MIT');
    } finally {
      peer.close();
    }
  }
});

for (const ntlmToo of [false, true]) {
  test(`our SPNEGO initiator -> MIT SPNEGO acceptor${ntlmToo ? ', with NTLM listed second' : ''}`, { skip }, async () => {
    const peer = new Krb5Peer('accept', 'spnego', acceptorEnv());
    try {
      const me = new SpnegoKerberosInitiator(
        {
          credentials: { username: 'alice@EXAMPLE.TEST', password: 'Passw0rd!' },
          targetHost: 'localhost',
          config: loadKrb5Config({ KRB5_CONFIG: kdc.krb5Conf }),
          send: networkKdc({ config: loadKrb5Config({ KRB5_CONFIG: kdc.krb5Conf }) }),
          env: { KRB5_CONFIG: kdc.krb5Conf },
        },
        ntlmToo ? () => assert.fail('NTLM must not be used when Kerberos is accepted') : undefined,
      );
      let t = await me.step();
      for (let i = 0; i < 3 && !me.complete; i++) {
        const r = await peer.token(t!);
        t = await me.step(r.token);
        if (t && !r.complete) continue;
      }
      if (t) await peer.token(t);
      assert.equal(me.complete, true);
      assert.equal((await peer.info()).peer, 'alice@EXAMPLE.TEST');
      const w = await me.wrapWinrm(utf8('spnego sealed'));
      assert.equal(fromUtf8((await peer.unwrap(new Uint8Array([...w.header, ...w.data]))).data), 'spnego sealed');
    } finally {
      peer.close();
    }
  });
}

test('MIT initiator (kinit -f ccache) -> our acceptor (keytab): identity, delegated TGT, wrap/unwrap both ways', { skip }, async () => {
  const peer = new Krb5Peer('initiate', 'krb5', mitInitiatorEnv(), { delegate: true });
  try {
    const acc = new KerberosAcceptor({ keytab: readKeytab(kdc.httpKeytab), userDb: users() });
    const first = await peer.start();
    const rep = await acc.step(first.token);
    assert.equal(acc.complete, true);
    assert.equal(acc.identity!.user, 'alice');
    assert.equal(acc.identity!.domain, 'EXAMPLE');
    assert.equal(acc.identity!.kerberosPrincipal, 'alice@EXAMPLE.TEST');
    const cc = decodeCCache(acc.identity!.delegatedCCache!);
    assert.deepEqual(cc.credentials[0]!.server.name.nameString, ['krbtgt', 'EXAMPLE.TEST']);
    const fin = await peer.token(rep!);
    assert.equal(fin.complete, true);
    const w = await peer.wrap(utf8('from MIT'));
    assert.equal(fromUtf8(acc.security!.unwrap(w)), 'from MIT');
    const mine = await acc.wrapWinrm(utf8('from the endpoint'));
    assert.equal(fromUtf8((await peer.unwrap(new Uint8Array([...mine.header, ...mine.data]))).data), 'from the endpoint');
  } finally {
    peer.close();
  }
});

test('MIT SPNEGO initiator -> our Negotiate acceptor picks Kerberos', { skip }, async () => {
  const peer = new Krb5Peer('initiate', 'spnego', mitInitiatorEnv());
  try {
    const acc = new SpnegoAcceptor({
      userDb: users(),
      netbiosComputer: 'HOST',
      netbiosDomain: 'EXAMPLE',
      kerberos: { keytab: readKeytab(kdc.httpKeytab), userDb: users(), httpScheme: 'Negotiate' },
    });
    const first = await peer.start();
    const rep = await acc.step(first.token);
    assert.equal(acc.complete, true);
    assert.equal(acc.identity!.mechanism, 'kerberos');
    const fin = await peer.token(rep!);
    assert.equal(fin.complete, true);
    const w = await peer.wrap(utf8('negotiate from MIT'));
    // MIT wraps with its own RRC/EC: the WinRM split is just header+data concatenated again
    assert.equal(fromUtf8(await acc.unwrapWinrm(w.subarray(0, 16), w.subarray(16))), 'negotiate from MIT');
  } finally {
    peer.close();
  }
});

test('a principal that is not in the users file is refused with the line to add', { skip }, async () => {
  const peer = new Krb5Peer('initiate', 'krb5', mitInitiatorEnv());
  try {
    const acc = new KerberosAcceptor({ keytab: readKeytab(kdc.httpKeytab), userDb: parseUsers('EXAMPLE\\alice:Passw0rd!\n') });
    await assert.rejects(acc.step((await peer.start()).token), /alice@EXAMPLE\.TEST is not allowed.*alice@EXAMPLE\.TEST:\*/);
  } finally {
    peer.close();
  }
});

test('rc4-hmac session (RFC 4757): AP-REQ accepted by MIT, RFC 1964-framed wrap tokens both ways', { skip }, async () => {
  // a realm that still allows RC4 (this MIT build needs permitted_enctypes and allow_rc4)
  const rc4 = await startKdc({
    enctypes: 'rc4-hmac:normal aes256-cts-hmac-sha1-96:normal',
    libdefaults: 'allow_weak_crypto = true\n  permitted_enctypes = aes256-cts-hmac-sha1-96 rc4-hmac\n  allow_rc4 = true',
  });
  const peer = new Krb5Peer('accept', 'krb5', { KRB5_CONFIG: rc4.krb5Conf, KRB5_KTNAME: `FILE:${rc4.httpKeytab}` });
  try {
    const me = new KerberosInitiator({
      credentials: { username: 'alice@EXAMPLE.TEST', password: 'Passw0rd!' },
      targetHost: 'localhost',
      etypes: [23],
      config: loadKrb5Config({ KRB5_CONFIG: rc4.krb5Conf }),
      send: networkKdc({ config: loadKrb5Config({ KRB5_CONFIG: rc4.krb5Conf }) }),
      env: { KRB5_CONFIG: rc4.krb5Conf },
    });
    const rep = await peer.token((await me.step())!);
    await me.step(rep.token);
    assert.equal(me.security!.key.etype, 23);
    assert.equal((await peer.info()).peer, 'alice@EXAMPLE.TEST');
    // generic GSS tokens carry RFC 4757's padding byte (MIT 1.20 requires it; WinRM's unpadded form is in the pair tests)
    assert.equal(fromUtf8((await peer.unwrap(me.security!.wrap(utf8('rc4 from winrm-ts')))).data), 'rc4 from winrm-ts');
    assert.equal(fromUtf8(me.security!.unwrap(await peer.wrap(utf8('rc4 from MIT')))), 'rc4 from MIT');
    // WinRM's layout (MS-WSMV 2.2.9.1) from MIT's IOV call, as pyspnego/pypsrp seal WinRM messages: we decrypt it
    // to the message plus RFC 4757's one padding byte, which such clients count in OriginalContent Length
    for (const size of [1, 15, 16, 17, 4096]) {
      const msg = utf8('<s:Envelope/>'.repeat(Math.ceil(size / 13)).slice(0, size));
      const theirs = await peer.wrapWinrm(msg);
      assert.equal(theirs.data.length, size + 1, 'MIT pads rc4-hmac wrap tokens with one byte');
      const plain = me.security!.unwrapWinrm(theirs.header, theirs.data);
      assert.deepEqual(plain.subarray(0, size), msg, `we unwrap MIT's ${size}-byte WinRM message`);
      assert.deepEqual([...plain.subarray(size)], [1]);
      // …and a whole MIME body framed as pypsrp frames it (Length counts the pad) decrypts to the message alone
      const ct = `multipart/encrypted;protocol="${me.encryptionProtocol}";boundary="Encrypted Boundary"`;
      const body = frameParts([{ protocol: me.encryptionProtocol, length: size + 1, header: theirs.header, data: theirs.data }]);
      assert.deepEqual(await decryptMessage(me, ct, body), msg, `the ${size}-byte message without MIT's padding byte`);
    }
  } finally {
    peer.close();
    rc4.stop();
  }
});
