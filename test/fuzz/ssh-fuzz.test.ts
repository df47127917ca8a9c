/**
 * Bad input for the SSH layer's parsers: mutated / random known_hosts text, random host key blobs, and random
 * bytes (with and without `__NamedPipeError__:` lines) through the `pwsh -sshs` output filter: never a crash,
 * a typed error where one is raised, bounded memory, nothing lost or invented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHostKey, parseKnownHosts } from '../../src/remoting/ssh-known-hosts.js';
import { SshsOutputFilter } from '../../src/remoting/ssh.js';
import { WinRMError } from '../../src/errors.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('ssh-fuzz.test.ts');

let seed = fz.int31();
const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)]!;

const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIEmd88DHL92CTxUktHGrl9w1A2tGgVip/8HQnylQCqIy';
const BASE = [
  `host1,host2 ssh-ed25519 ${ED} c`,
  `|1|Y95AkAn8JfwozBExhnLdCCWAano=|75TDH0nnG8QiJNwt1msJXEU7j+U= ssh-ed25519 ${ED}`,
  `@revoked [h]:22 ssh-ed25519 ${ED}`,
  `*.x,!y.x ssh-ed25519 ${ED}`,
].join('\n');

test('known_hosts: mutated and random text never throws, every entry is well formed', () => {
  const alphabet = ' \t\n\r|,!*?[]:@#=+/abcAZ019\u0000\u00e9\ud83d';
  for (let i = 0; i < 3000; i++) {
    let s: string;
    if (i % 3 === 0) s = BASE.slice(0, Math.floor(rnd() * BASE.length));
    else if (i % 3 === 1) {
      const a = [...BASE];
      for (let k = 0; k < 5; k++) a[Math.floor(rnd() * a.length)] = pick([...alphabet]);
      s = a.join('');
    } else s = Array.from({ length: Math.floor(rnd() * 200) }, () => pick([...alphabet])).join('');
    const { entries } = parseKnownHosts(s);
    for (const e of entries) {
      assert.ok(e.key.length >= 4 && typeof e.keyType === 'string');
      assert.ok(e.hashed || (e.patterns && e.patterns.length));
      // judging any key against these entries works or raises a typed error
      try {
        checkHostKey(entries, pick(['host1', 'a.x', 'y.x', 'h', '[h]:22']), pick([22, 2222]), e.key);
      } catch (err) {
        assert.ok(err instanceof WinRMError, String(err));
      }
    }
  }
});

test('host key blobs: random bytes give a verdict or a typed error', () => {
  const { entries } = parseKnownHosts(BASE);
  for (let i = 0; i < 2000; i++) {
    const blob = new Uint8Array(Math.floor(rnd() * 80));
    for (let k = 0; k < blob.length; k++) blob[k] = Math.floor(rnd() * 256);
    if (i % 2 && blob.length > 4) {
      blob[0] = 0;
      blob[1] = 0;
      blob[2] = 0;
      blob[3] = Math.floor(rnd() * 20);
    }
    try {
      const v = checkHostKey(entries, 'host1', 22, blob);
      assert.ok(['unknown', 'changed', 'revoked', 'known'].includes(v.status));
    } catch (err) {
      assert.ok(err instanceof WinRMError, String(err));
    }
  }
});

test('sshs output filter: random bytes pass through unchanged unless they form error lines', () => {
  for (let i = 0; i < 400; i++) {
    // build a stream of normal lines and error lines, remember what must come out
    const lines: string[] = [];
    let expected = '';
    const errs: string[] = [];
    const n = 1 + Math.floor(rnd() * 12);
    let afterError = false;
    for (let k = 0; k < n; k++) {
      const body = Array.from({ length: Math.floor(rnd() * 40) }, () => pick([...'abc<>_N: \u00e9\r'])).join('');
      if (rnd() < 0.3) {
        lines.push(`__NamedPipeError__:${body}\n`);
        errs.push(body.replace(/\r$/, '').trim());
        afterError = true;
      } else {
        const l = pick(['', '_', '__NamedPipe', '__NamedPipeError_', '   at ', '\tat ']) + body + '\n';
        lines.push(l);
        // the stack-trace lines after an error line (white space first) are dropped
        if (afterError && (l[0] === ' ' || l[0] === '\t')) continue;
        afterError = false;
        expected += l;
      }
    }
    const bytes = new TextEncoder().encode(lines.join(''));
    const f = new SshsOutputFilter();
    const out: Uint8Array[] = [];
    const gotErrs: string[] = [];
    for (let p = 0; p < bytes.length;) {
      const sz = 1 + Math.floor(rnd() * 30);
      const r = f.push(bytes.subarray(p, p + sz));
      out.push(...r.data.map((d) => d.slice()));
      gotErrs.push(...r.errors);
      p += sz;
    }
    assert.equal(Buffer.concat(out).toString('utf8'), expected);
    assert.deepEqual(gotErrs, errs);
  }
});
