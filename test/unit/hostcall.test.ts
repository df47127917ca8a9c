/** answerHostCall: each PSHost method's answer gets the .NET type the server decodes (MS-PSRP 2.2.3.17). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerHostCall, type PSHostHandler } from '../../src/client/host.js';
import { PSObject, PSPrimitive, PSList, PSDict, PSSecureString, serialize, type ClixmlValue } from '../../src/clixml/index.js';
import { HOST_METHODS } from '../../src/psrp/host-methods.js';
import type { HostCall } from '../../src/psrp/events.js';

const call = (methodId: number, params: ClixmlValue[] = []): HostCall => ({
  ci: 1n,
  methodId,
  methodName: HOST_METHODS.get(methodId)!.name,
  params,
});
const choice = (label: string) =>
  new PSObject({
    extended: [
      ['label', label],
      ['helpMessage', ''],
    ],
  });
const host: PSHostHandler = {
  ui: {
    readLine: () => 'line',
    readLineAsSecureString: () => 'secret',
    promptForChoice: (_c, _m, choices, def) => choices.length + def,
    promptForChoiceMultipleSelection: () => [0, 2],
    promptForCredential: (_c, _m, u) => ({ userName: u, password: 'pw' }),
    rawUI: { foregroundColor: 12, bufferSize: { width: 80, height: 25 }, windowTitle: 't', keyAvailable: true },
  },
};

test('method table covers MS-PSRP 2.2.3.17 ids 1..56', () => {
  for (let i = 1; i <= 56; i++) assert.ok(HOST_METHODS.get(i), `method ${i}`);
  assert.equal(HOST_METHODS.get(11)!.name, 'ReadLine');
  assert.equal(HOST_METHODS.get(56)!.name, 'PromptForChoiceMultipleSelection');
});

test('answers carry exact .NET types', async () => {
  assert.deepEqual(await answerHostCall(host, call(11)), { value: 'line' });
  const ss = (await answerHostCall(host, call(12))) as { value: PSPrimitive };
  assert.equal(ss.value.tag, 'SS');
  assert.equal((ss.value.value as PSSecureString).reveal(), 'secret');
  assert.equal(String(ss.value.value), '[SecureString]');
  const ch = (await answerHostCall(host, call(26, ['c', 'm', PSObject.list([choice('&A'), choice('&B')]), 1]))) as { value: PSPrimitive };
  assert.equal(ch.value.tag, 'I32');
  assert.equal(ch.value.value, 3);
  const multi = (await answerHostCall(host, call(56, ['c', 'm', PSObject.list([choice('a')]), PSObject.list([])]))) as { value: PSObject };
  assert.ok(multi.value.collection instanceof PSList);
  assert.match(serialize(multi.value), /Collection`1\[\[System.Int32.*<I32>0<\/I32><I32>2<\/I32>/);
  const cred = (await answerHostCall(host, call(24, ['c', 'm', 'DOM\\u', 'target']))) as { value: PSObject };
  assert.ok(cred.value.isType('System.Management.Automation.PSCredential'));
  assert.equal(cred.value.get('UserName'), 'DOM\\u');
  assert.equal((cred.value.get('Password') as PSPrimitive).tag, 'SS');
  assert.deepEqual(await answerHostCall(host, call(27)), { value: new PSPrimitive('I32', 12) });
  const size = (await answerHostCall(host, call(37))) as { value: PSObject };
  assert.match(serialize(size.value), /<I32 N="width">80<\/I32><I32 N="height">25<\/I32>/);
  assert.deepEqual(await answerHostCall(host, call(41)), { value: 't' });
  assert.deepEqual(await answerHostCall(host, call(45)), { value: true });
});

test('Prompt without a prompt handler reads one line per field; dictionary answer', async () => {
  const field = new PSObject({
    extended: [
      ['name', 'Name'],
      ['label', ''],
      ['parameterTypeFullName', 'System.String'],
      ['helpMessage', ''],
      ['isMandatory', true],
      ['defaultValue', null],
    ],
  });
  const r = (await answerHostCall(host, call(23, ['', '', PSObject.list([field])]))) as { value: PSObject };
  assert.ok(r.value.collection instanceof PSDict);
  assert.equal((r.value.collection as PSDict).get('Name'), 'line');
});

test('void methods need no answer; missing handlers give an error answer', async () => {
  const lines: string[] = [];
  assert.equal(await answerHostCall({ ui: { writeLine: (t) => lines.push(t) } }, call(16, ['hello'])), undefined);
  assert.deepEqual(lines, ['hello']);
  assert.equal(await answerHostCall(undefined, call(20, [new PSPrimitive('I64', 0n), null])), undefined);
  const e = await answerHostCall({}, call(11));
  assert.ok(e && 'error' in e && /does not support ReadLine/.test(e.error));
  const thrown = await answerHostCall(
    {
      ui: {
        readLine: () => {
          throw new Error('user cancelled');
        },
      },
    },
    call(11),
  );
  assert.deepEqual(thrown, { error: 'user cancelled' });
});
