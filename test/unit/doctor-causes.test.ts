// doctor's tables without I/O: WS-Man faults and error classes → cause and fix (causes.ts), Windows' winrm/config reply
// → the values doctor reports (parseConfig, on the recorded Windows answer), and the text renderer's colour rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AccessDeniedError, ConnectError, DelegationRefusedError, TlsError, WSManFaultError } from '../../src/errors.js';
import { explain, type CauseContext } from '../../src/cli/doctor/causes.js';
import { parseConfig } from '../../src/cli/doctor/checks.js';
import { renderCheck } from '../../src/cli/doctor/render.js';
import { isTrustedHost } from '../../src/cli/doctor/policy.js';
import { parseEnvelope } from '../../src/wsman/envelope.js';
import { recordingsDir, recordingsSkip } from '../helpers/peers.js';

const http: CauseContext = { https: false, auth: 'negotiate', encryption: 'auto', host: 'win1' };
const fault = (code: number, subcode: string, reason: string) =>
  new WSManFaultError(`WS-Management fault ${code}: ${reason}`, code, 'win1', reason, 's:Sender', subcode);
const all = (x: { cause: string; fix: string[] }) => `${x.cause}\n${x.fix.join('\n')}`;

test('quota faults name the quota and the Set-Item that raises it', () => {
  const shells = explain(
    fault(2150859173, 'w:QuotaLimit', 'This user is allowed a maximum number of 30 concurrent shells, which has been exceeded.'),
    http,
  );
  assert.match(shells.cause, /MaxShellsPerUser/);
  assert.match(all(shells), /Set-Item WSMan:\\localhost\\Shell\\MaxShellsPerUser/);
  assert.match(all(explain(fault(2150859174, 'w:QuotaLimit', 'concurrent operations'), http)), /MaxConcurrentOperationsPerUser/);
  assert.match(
    all(explain(fault(2147944216, 'w:InternalError', 'Not enough quota is available to process this command.'), http)),
    /MaxProcessesPerShell/,
  );
  assert.match(all(explain(fault(99, 'w:QuotaLimit', 'some other quota'), http)), /a quota of the host was hit/);
});

test('other faults: access denied, envelope size, timeout', () => {
  assert.match(all(explain(fault(2147942405, 'w:AccessDenied', 'Access is denied.'), http)), /Remote Management Users/);
  assert.match(all(explain(fault(2150858793, 'w:EncodingLimit', 'envelope too big'), http)), /MaxEnvelopeSizekb/);
  assert.match(all(explain(fault(2150858793, 'w:TimedOut', 'too slow'), http)), /OperationTimeout/);
});

test(
  'a rejected logon: over HTTPS the channel binding is named, with --encryption never AllowUnencrypted, with Basic on HTTP the ' +
    'HTTPS fix',
  () => {
    const denied = new AccessDeniedError('Access is denied');
    assert.match(all(explain(denied, { ...http, https: true })), /channel binding.*TLS-terminating proxy/);
    assert.doesNotMatch(all(explain(denied, http)), /channel binding/);
    assert.match(all(explain(denied, { ...http, encryption: 'never' })), /AllowUnencrypted/);
    assert.match(explain(denied, { ...http, auth: 'basic' }).fix[0]!, /--https --auth basic/);
    assert.match(
      all(explain(new AccessDeniedError('refused an anonymous request (NT AUTHORITY\\ANONYMOUS LOGON)'), http)),
      /-u DOMAIN\\user/,
    );
  },
);

test('delegation, TLS and connection errors carry their fixes', () => {
  assert.match(
    all(explain(new DelegationRefusedError('CredSSP refused'), http)),
    /--delegate-to wsman\/win1.*Allow delegating fresh credentials/s,
  );
  assert.match(all(explain(new TlsError('certificate has expired'), http)), /--fingerprint/);
  assert.match(all(explain(new ConnectError('connection refused'), http)), /Enable-PSRemoting/);
});

test(
  "parseConfig reads Windows' winrm/config reply (test_wsman_update_envelope_size_500.yml)",
  { skip: recordingsSkip(recordingsDir()) },
  () => {
    const rec = (
      parseYaml(readFileSync(join(recordingsDir()!, 'test_wsman_update_envelope_size_500.yml'), 'utf8')) as {
        messages: Array<{ response: string }>;
      }
    ).messages[0]!.response;
    const cfg = parseConfig(parseEnvelope(rec).payload);
    assert.equal(cfg.maxEnvelopeSizeKb, 500);
    assert.equal(cfg.maxTimeoutMs, 60000);
    assert.equal(cfg.allowUnencrypted, false);
    assert.equal(cfg.cbtHardeningLevel, 'Relaxed');
    assert.deepEqual(cfg.auth, { Basic: true, Kerberos: true, Negotiate: true, Certificate: false, CredSSP: true });
    assert.equal(cfg.quotas.MaxConcurrentOperationsPerUser, 1500);
    assert.equal(cfg.quotas.MaxShellsPerUser, 2147483647);
  },
);

test('trusted-hosts patterns (the policy hook) and the renderer: colour only when asked, fixes indented', () => {
  assert.equal(isTrustedHost(['*.corp.example'], 'web1.corp.example'), true);
  assert.equal(isTrustedHost(['*.corp.example'], 'web1.other.example'), false);
  assert.equal(isTrustedHost(['10.0.0.5'], '10.0.0.5:5985'), true);
  const c = { id: 'x', title: 'thing', status: 'failed' as const, detail: 'broken', fix: ['do this'] };
  assert.equal(renderCheck(c, false), 'FAILED   thing: broken\n         fix: do this\n');
  assert.match(renderCheck(c, true), /^\x1b\[31mFAILED {2}\x1b\[0m thing/);
});
