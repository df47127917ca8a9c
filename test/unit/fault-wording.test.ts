/**
 * Fault wording: every fault the endpoint builds for a situation Windows was recorded in (pypsrp's recordings,
 * ../shared/recordings/pypsrp; read, never copied here) must be Windows' s:Fault byte for byte (Machine aside).
 * Plus the pure helpers of the limits: xs:boolean End, the IdleTimeout cap, limit validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { recordingsDir, recordingsSkip } from '../helpers/peers.js';
import { buildFault, parseEnvelope, faultFromEnvelope } from '../../src/wsman/envelope.js';
import { faults } from '../../src/server/dispatch.js';
import { quotaFaults, resolveLimits, DEFAULT_LIMITS } from '../../src/server/limits.js';
import { effectiveIdleMs } from '../../src/server/winrs.js';
import { xsBoolean, parseSendRequest } from '../../src/winrs/messages.js';
import { NS } from '../../src/wsman/ns.js';

const dir = recordingsDir();
const skip = recordingsSkip(dir);

/** s:Fault elements Windows sent, with their Machine, by recording file. */
function recordedFaults(): Array<{ file: string; fault: string; machine: string }> {
  const out: Array<{ file: string; fault: string; machine: string }> = [];
  for (const f of readdirSync(dir!)
    .filter((x) => x.endsWith('.yml'))
    .sort()) {
    const y = parseYaml(readFileSync(join(dir!, f), 'utf8')) as { messages: Array<{ response: string }> };
    for (const m of y.messages ?? []) {
      const fault = /<s:Fault>.*<\/s:Fault>/s.exec(m.response ?? '')?.[0];
      if (fault) out.push({ file: f, fault, machine: /Machine="([^"]*)"/.exec(fault)![1]! });
    }
  }
  return out;
}
const ours = (spec: Parameters<typeof buildFault>[0]) => /<s:Fault>.*<\/s:Fault>/s.exec(buildFault(spec, undefined))![0];

test('our faults are worded and shaped as Windows recorded them', { skip }, () => {
  const rec = recordedFaults();
  const cases: Array<[string, RegExp, (machine: string) => string]> = [
    [
      'unknown shell (shell provider wraps the message)',
      /test_psrp_is_alive_invalid_selectors/,
      (m) => ours({ ...faults.invalidSelectors('shell').spec, machine: m }),
    ],
    ['unknown command', /test_winrs_bad_cmd_id/, (m) => ours({ ...faults.invalidSelectors('command').spec, machine: m })],
    ['OperationTimeout PT-1S', /test_psrp_is_alive_other_wsman_error/, (m) => ours({ ...faults.invalidTimeout('PT-1S').spec, machine: m })],
    ['Receive timed out', /test_winrs_operation_timeout/, (m) => ours({ ...faults.timedOut().spec, machine: m })],
    ['Receive without a CommandId', /test_winrs_fail_poll_process/, (m) => ours({ ...faults.invalidParameter().spec, machine: m })],
    [
      'no such executable',
      /test_winrs_no_cmd_shell/,
      (m) => ours({ ...faults.provider(2147942402, 'The system cannot find the file specified. ').spec, machine: m }),
    ],
  ];
  for (const [what, file, build] of cases) {
    const r = rec.find((x) => file.test(x.file));
    assert.ok(r, `${what}: no recorded fault in ${file}`);
    assert.equal(build(r.machine), r.fault, what);
  }
});

test('quota faults carry Windows codes and texts and parse on the client', () => {
  for (const [f, code, text] of [
    [
      quotaFaults.maxShells(30),
      2150859173,
      'This user is allowed a maximum number of 30 concurrent shells, which has been exceeded. Close existing shells or raise ' +
        'the quota for this user.',
    ],
    [
      quotaFaults.maxOperations(1500),
      2150859174,
      'This user is allowed a maximum number of 1500 concurrent operations, which has been exceeded. Close existing operations ' +
        'for this user, or raise the quota for this user.',
    ],
  ] as const) {
    const e = faultFromEnvelope(parseEnvelope(buildFault({ ...f.spec, machine: 'hostA' }, 'uuid:X')))!;
    assert.equal(e.wsmanFaultCode, code);
    assert.equal(e.faultSubcode, 'w:QuotaLimit');
    assert.ok(e.message.includes(text), e.message);
  }
  const s = faultFromEnvelope(parseEnvelope(buildFault({ ...faults.schemaValidation().spec, machine: 'h' }, undefined)))!;
  assert.equal(s.wsmanFaultCode, 2150858817);
  assert.equal(s.faultSubcode, 'w:SchemaValidationError');
});

test('End is an xs:boolean: true/1 in any case and with blanks end stdin; anything else does not', () => {
  for (const v of ['true', 'True', 'TRUE', '1', ' true ', '\ttrue\n']) assert.equal(xsBoolean(v), true, JSON.stringify(v));
  for (const v of [undefined, '', 'false', 'False', '0', 'yes', 'truee', '11', 'on']) assert.equal(xsBoolean(v), false, JSON.stringify(v));
  const env = parseEnvelope(
    `<s:Envelope xmlns:s="${NS.s}" xmlns:rsp="${NS.rsp}"><s:Body><rsp:Send><rsp:Stream Name="stdin" CommandId="C" ` +
      `End="True">YQ==</rsp:Stream></rsp:Send></s:Body></s:Envelope>`,
  );
  assert.deepEqual(
    parseSendRequest(env.payload).map((x) => x.end),
    [true],
  );
});

test('IdleTimeout: the client value capped by the endpoint maximum (which is the default), at least 1 s', () => {
  assert.equal(effectiveIdleMs(undefined, 7_200_000), 7_200_000);
  assert.equal(effectiveIdleMs('PT60S', 7_200_000), 60_000);
  assert.equal(effectiveIdleMs('P99999999D', 7_200_000), 7_200_000);
  assert.equal(effectiveIdleMs('PT8639999913600S', 7_200_000), 7_200_000);
  assert.equal(effectiveIdleMs('PT0.001S', 7_200_000), 1000);
  assert.equal(effectiveIdleMs('garbage', 5000), 5000);
});

test('limits: Windows defaults; nonsense values refused', () => {
  assert.equal(DEFAULT_LIMITS.maxShellsPerUser, 30);
  assert.equal(DEFAULT_LIMITS.maxConcurrentOperationsPerUser, 1500);
  assert.equal(DEFAULT_LIMITS.maxProcessesPerShell, 25);
  assert.equal(DEFAULT_LIMITS.maxMemoryPerShellMB, 1024);
  assert.equal(DEFAULT_LIMITS.idleTimeoutMs, 7_200_000);
  assert.equal(resolveLimits({ maxShellsPerUser: 3 }).maxShellsPerUser, 3);
  assert.throws(() => resolveLimits({ maxShellsPerUser: 0 }), RangeError);
  assert.throws(() => resolveLimits({ idleTimeoutMs: Number.NaN }), RangeError);
  assert.equal(resolveLimits({ headersTimeoutMs: 9000, requestTimeoutMs: 5000 }).headersTimeoutMs, 5000);
});
