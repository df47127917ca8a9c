/** Kerberos crypto vectors: RFC 3961 A.1 (n-fold), RFC 3962 B (string-to-key, AES-CTS), RFC 8009 A, RFC 4757. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ctsDecrypt, ctsEncrypt, kdfHmacSha2, nfold, profile, stringToKey, dk } from '../../src/auth/kerberos/crypto.js';
import { KerberosError } from '../../src/errors.js';
import { fromHex, toHex, utf8 } from '../../src/util/bytes.js';

test('RFC 3961 A.1 n-fold vectors', () => {
  const v: Array<[number, string, string]> = [
    [64, '012345', 'be072631276b1955'],
    [56, 'password', '78a07b6caf85fa'],
    [64, 'Rough Consensus, and Running Code', 'bb6ed30870b7f0e0'],
    [168, 'password', '59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e'],
    [192, 'MASSACHVSETTS INSTITVTE OF TECHNOLOGY', 'db3b0d8f0b061e603282b308a50841229ad798fab9540c1b'],
    [168, 'Q', '518a54a215a8452a518a54a215a8452a518a54a215'],
    [168, 'ba', 'fb25d531ae8974499f52fd92ea9857c4ba24cf297e'],
    [64, 'kerberos', '6b65726265726f73'],
    [128, 'kerberos', '6b65726265726f737b9b5b2b93132b93'],
    [168, 'kerberos', '8372c236344e5f1550cd0747e15d62ca7a5a3bcea4'],
    [256, 'kerberos', '6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4'],
  ];
  for (const [bits, input, out] of v) assert.equal(toHex(nfold(utf8(input), bits / 8)), out, `${bits}-fold("${input}")`);
});

test('RFC 3962 B string-to-key vectors (aes128 and aes256)', () => {
  const v: Array<[number, string, Uint8Array, string, string]> = [
    [
      1,
      'password',
      utf8('ATHENA.MIT.EDUraeburn'),
      '42263c6e89f4fc28b8df68ee09799f15',
      'fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161',
    ],
    [
      2,
      'password',
      utf8('ATHENA.MIT.EDUraeburn'),
      'c651bf29e2300ac27fa469d693bdda13',
      'a2e16d16b36069c135d5e9d2e25f896102685618b95914b467c67622225824ff',
    ],
    [
      1200,
      'password',
      utf8('ATHENA.MIT.EDUraeburn'),
      '4c01cd46d632d01e6dbe230a01ed642a',
      '55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a',
    ],
    [
      5,
      'password',
      fromHex('1234567878563412'),
      'e9b23d52273747dd5c35cb55be619d8e',
      '97a4e786be20d81a382d5ebc96d5909cabcdadc87ca48f574504159f16c36e31',
    ],
    [
      1200,
      'X'.repeat(64),
      utf8('pass phrase equals block size'),
      '59d1bb789a828b1aa54ef9c2883f69ed',
      '89adee3608db8bc71f1bfbfe459486b05618b70cbae22092534e56c553ba4b34',
    ],
    [
      1200,
      'X'.repeat(65),
      utf8('pass phrase exceeds block size'),
      'cb8005dc5f90179a7f02104c0018751d',
      'd78c5c9cb872a8c9dad4697f0bb5b2d21496c82beb2caeda2112fceea057401b',
    ],
    [
      50,
      '\u{1D11E}',
      utf8('EXAMPLE.COMpianist'),
      'f149c1f2e154a73452d43e7fe62a56e5',
      '4b6d9839f84406df1f09cc166db4b83c571848b784a3d6bdc346589a3e393f9e',
    ],
  ];
  for (const [iter, pass, salt, k128, k256] of v) {
    const p = Uint8Array.of(iter >>> 24, (iter >>> 16) & 255, (iter >>> 8) & 255, iter & 255);
    assert.equal(toHex(stringToKey(17, pass, salt, p).value), k128, `aes128 iter ${iter}`);
    assert.equal(toHex(stringToKey(18, pass, salt, p).value), k256, `aes256 iter ${iter}`);
  }
});

test('RFC 3962 B AES-128 CTS vectors ("chicken teriyaki", IV 0), both directions', () => {
  const key = fromHex('636869636b656e207465726979616b69');
  const full = utf8("I would like the General Gau's Chicken, please, and wonton soup.");
  const v: Array<[number, string]> = [
    [17, 'c6353568f2bf8cb4d8a580362da7ff7f97'],
    [31, 'fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5'],
    [32, '39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584'],
    [47, '97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5'],
    [48, '97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd839312523a78662d5be7fcbcc98ebf5a8'],
    [
      64,
      '97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a526730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8',
    ],
  ];
  for (const [n, out] of v) {
    assert.equal(toHex(ctsEncrypt(key, full.subarray(0, n))), out, `encrypt ${n} bytes`);
    assert.deepEqual(ctsDecrypt(key, fromHex(out)), full.subarray(0, n), `decrypt ${n} bytes`);
  }
});

test('AES-SHA1 checksum (MIT t_cksums.c vector, usage 3) and DK', () => {
  const k128 = fromHex('9062430c8cda3388922e6d6a509f5b7a');
  assert.equal(toHex(profile(17).checksum(k128, 3, utf8('eight nine ten eleven twelve thirteen'))), '01a4b088d45628f6946614e3');
  // DK is deterministic and key-sized
  assert.equal(dk(k128, utf8('kerberos')).length, 16);
});

test('RFC 8009 A: string-to-key, key derivation, encryption and checksum vectors', () => {
  const salt = fromHex('10df9dd783e5bc8acea1730e74355f61' + Buffer.from('ATHENA.MIT.EDUraeburn').toString('hex'));
  assert.equal(toHex(stringToKey(19, 'password', salt).value), '089bca48b105ea6ea77ca5d2f39dc5e7');
  assert.equal(toHex(stringToKey(20, 'password', salt).value), '45bd806dbf6a833a9cffc1c94589a222367a79bc21c413718906e9f578a78467');
  const b128 = fromHex('3705d96080c17728a0e800eab6e0d23c');
  assert.equal(toHex(kdfHmacSha2('sha256', b128, fromHex('0000000299'), 128)), 'b31a018a48f54776f403e9a396325dc3');
  assert.equal(toHex(kdfHmacSha2('sha256', b128, fromHex('00000002aa'), 128)), '9b197dd1e8c5609d6e67c3e37c62c72e');
  assert.equal(toHex(kdfHmacSha2('sha256', b128, fromHex('0000000255'), 128)), '9fda0e56ab2d85e1569a688696c26a6c');
  const b256 = fromHex('6d404d37faf79f9df0d33568d320669800eb4836472ea8a026d16b7182460c52');
  assert.equal(toHex(kdfHmacSha2('sha384', b256, fromHex('0000000299'), 192)), 'ef5718be86cc84963d8bbb5031e9f5c4ba41f28faf69e73d');
  assert.equal(
    toHex(kdfHmacSha2('sha384', b256, fromHex('00000002aa'), 256)),
    '56ab22bee63d82d7bc5227f6773f8ea7a5eb1c825160c38312980c442e5c7e49',
  );
  const enc: Array<[number, Uint8Array, string, string, string]> = [
    [19, b128, '', '7e5895eaf2672435bad817f545a37148', 'ef85fb890bb8472f4dab20394dca781dad877eda39d50c870c0d5a0a8e48c718'],
    [
      19,
      b128,
      '000102030405',
      '7bca285e2fd4130fb55b1a5c83bc5b24',
      '84d7f30754ed987bab0bf3506beb09cfb55402cef7e6877ce99e247e52d16ed4421dfdf8976c',
    ],
    [
      19,
      b128,
      '000102030405060708090a0b0c0d0e0f',
      '56ab21713ff62c0a1457200f6fa9948f',
      '3517d640f50ddc8ad3628722b3569d2ae07493fa8263254080ea65c1008e8fc295fb4852e7d83e1e7c48c37eebe6b0d3',
    ],
    [
      19,
      b128,
      '000102030405060708090a0b0c0d0e0f1011121314',
      'a7a4e29a4728ce10664fb64e49ad3fac',
      '720f73b18d9859cd6ccb4346115cd336c70f58edc0c4437c5573544c31c813bce1e6d072c186b39a413c2f92ca9b8334a287ffcbfc',
    ],
    [20, b256, '', 'f764e9fa15c276478b2c7d0c4e5f58e4', '41f53fa5bfe7026d91faf9be959195a058707273a96a40f0a01960621ac612748b9bbfbe7eb4ce3c'],
    [
      20,
      b256,
      '000102030405',
      'b80d3251c1f6471494256ffe712d0b9a',
      '4ed7b37c2bcac8f74f23c1cf07e62bc7b75fb3f637b9f559c7f664f69eab7b6092237526ea0d1f61cb20d69d10f2',
    ],
    [
      20,
      b256,
      '000102030405060708090a0b0c0d0e0f1011121314',
      '763e65367e864f02f55153c7e3b58af1',
      '40013e2df58e8751957d2878bcd2d6fe101ccfd556cb1eae79db3c3ee86429f2b2a602ac86fef6ecb647d6295fae077a1feb517508d2c16b4192e01f62',
    ],
  ];
  for (const [etype, key, plain, conf, out] of enc) {
    assert.equal(
      toHex(profile(etype).encrypt(key, 2, fromHex(plain), fromHex(conf))),
      out,
      `etype ${etype} encrypt ${plain.length / 2} bytes`,
    );
    assert.equal(toHex(profile(etype).decrypt(key, 2, fromHex(out))), plain);
  }
  const data = fromHex('000102030405060708090a0b0c0d0e0f1011121314');
  assert.equal(toHex(profile(19).checksum(b128, 2, data)), 'd78367186643d67b411cba9139fc1dee');
  assert.equal(toHex(profile(20).checksum(b256, 2, data)), '45ee791567eefca37f4ac1e0222de80d43c3bfa06699672a');
});

test('RFC 4757 rc4-hmac: string-to-key is the NT hash (MS-NLMP 4.2.2.1.2), encrypt/decrypt round trip, tamper detected', () => {
  assert.equal(toHex(stringToKey(23, 'Password', '').value), 'a4f49c406510bdcab6824ee7c30fd852');
  const key = fromHex('a4f49c406510bdcab6824ee7c30fd852');
  const p = profile(23);
  const c = p.encrypt(key, 7, utf8('hello rc4'), fromHex('0001020304050607'));
  assert.equal(c.length, 16 + 8 + 9);
  assert.deepEqual(p.decrypt(key, 7, c), utf8('hello rc4'));
  c[20]! ^= 1;
  assert.throws(() => p.decrypt(key, 7, c), KerberosError);
  assert.equal(p.checksum(key, 17, utf8('x')).length, 16);
});

test('every etype: round trip for many lengths, wrong key -> KerberosError', () => {
  for (const e of [17, 18, 19, 20, 23]) {
    const p = profile(e);
    const k = p.randomKey();
    for (const n of [0, 1, 15, 16, 17, 31, 32, 33, 100]) {
      const d = new Uint8Array(n).map((_, i) => i * 7);
      assert.deepEqual(p.decrypt(k, 11, p.encrypt(k, 11, d)), d, `etype ${e} len ${n}`);
    }
    assert.throws(() => p.decrypt(p.randomKey(), 11, p.encrypt(k, 11, utf8('secret'))), KerberosError);
  }
});
