import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDelegation, matchesPattern, parseDelegateList } from '../../src/auth/credssp/delegation.js';
import { DelegationRefusedError, InvalidArgumentError } from '../../src/errors.js';

test('delegation: wsman/HOST patterns as Windows AllowFreshCredentialsWhenNTLMOnly', () => {
  const yes: [string, string][] = [
    ['wsman/*', 'anything.example'],
    ['wsman/*', '10.0.0.5'],
    ['wsman/*.corp.example', 'host.corp.example'],
    ['wsman/*.corp.example', 'a.b.corp.example'],
    ['wsman/*.corp.example', 'HOST.CORP.EXAMPLE.'],
    ['wsman/10.0.0.5', '10.0.0.5'],
    ['wsman/10.0.0.5', '10.0.0.5:5985'],
    ['WSMAN/Host1', 'host1'],
    ['wsman/::1', '[::1]:5986'],
  ];
  const no: [string, string][] = [
    ['wsman/*.corp.example', 'corp.example'],
    ['wsman/*.corp.example', 'evilcorp.example'],
    ['wsman/*.corp.example', 'host.corp.example.evil'],
    ['wsman/10.0.0.5', '10.0.0.50'],
    ['wsman/host1', 'host1.corp.example'],
  ];
  for (const [p, h] of yes) assert.ok(matchesPattern(p, h), `${p} should match ${h}`);
  for (const [p, h] of no) assert.ok(!matchesPattern(p, h), `${p} should not match ${h}`);
});

test('delegation: invalid patterns are argument errors', () => {
  for (const p of ['host1', 'http/host1', 'wsman/a*b', 'wsman/*.*.x', 'wsman/'])
    assert.throws(() => matchesPattern(p, 'x'), InvalidArgumentError, p);
});

test('delegation: refusal says how to allow it and that nothing was sent', () => {
  assert.doesNotThrow(() => checkDelegation('host.corp.example', ['wsman/*.corp.example']));
  assert.throws(
    () => checkDelegation('127.0.0.1:5985', ['wsman/*.corp.example']),
    (e: unknown) => {
      assert.ok(e instanceof DelegationRefusedError);
      assert.match(e.message, /--delegate-to wsman\/127\.0\.0\.1/);
      assert.match(e.message, /WINRM_TS_DELEGATE_TO/);
      assert.match(e.message, /delegateTo option/);
      assert.match(e.message, /Nothing was sent/);
      return true;
    },
  );
  assert.throws(() => checkDelegation('h', undefined), /delegate list is empty/);
});

test('delegation: parse lists from the environment or a flag', () => {
  assert.deepEqual(parseDelegateList('wsman/a, wsman/*.b;wsman/c  wsman/d'), ['wsman/a', 'wsman/*.b', 'wsman/c', 'wsman/d']);
  assert.deepEqual(parseDelegateList(undefined), []);
});
