// `ps` arguments, input and the text host, without a server: pwsh -File binding against a parameter table,
// PowerShell literals for -c arguments, --param, the "reads pipeline input" test, JSON input objects, and the
// host wrapper (width, escape sequences, error count, prompts refused while stdin is the input).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  bindArgs,
  commandParams,
  jsonToPS,
  literalArg,
  readsPipelineInput,
  stdinJson,
  type ParamTable,
} from '../../src/cli/format-args.js';
import { stripAnsi, textHost, outputWidth, colorWanted } from '../../src/cli/format.js';
import { PSObject, PSPrimitive, toPlain, type PSValue } from '../../src/index.js';

const table = (spec: Array<[string, boolean, ...string[]]>): ParamTable => {
  const t: ParamTable = new Map();
  for (const [name, isSwitch, ...aliases] of spec) for (const n of [name, ...aliases]) t.set(n.toLowerCase(), { name, isSwitch });
  return t;
};
const S = table([
  ['Name', false, 'N'],
  ['Count', false],
  ['Loud', true],
]);
const ADV = table([
  ['Name', false],
  ['Verbose', true, 'vb'],
  ['ErrorAction', false, 'ea'],
]);

test('pwsh -File binding: named values, switches, positional strings, -Name:value', () => {
  assert.deepEqual(bindArgs(['-Name', 'world', '-Count', '3', '-Loud'], S, false), [
    { name: 'Name', value: 'world' },
    { name: 'Count', value: '3' },
    { name: 'Loud', value: true },
  ]);
  assert.deepEqual(bindArgs(['-Loud', 'there', '2'], S, false), [
    { name: 'Loud', value: true },
    { name: null, value: 'there' },
    { name: null, value: '2' },
  ]);
  assert.deepEqual(bindArgs(['-Loud:$false', '-Name:a:b', '-n', 'x'], S, false), [
    { name: 'Loud', value: false },
    { name: 'Name', value: 'a:b' },
    { name: 'Name', value: 'x' },
  ]);
  assert.deepEqual(bindArgs(['-Cou', '5', '-5', '-'], S, false), [
    { name: 'Count', value: '5' },
    { name: null, value: '-5' },
    { name: null, value: '-' },
  ]);
  assert.throws(() => bindArgs(['-Name'], S, false), /missing an argument for parameter -Name/);
  assert.throws(() => bindArgs(['-Name', '-Loud'], S, false), /missing an argument/);
  assert.throws(() => bindArgs(['-Loud:maybe'], S, false), /switch/);
});

test('unknown parameters: into $args of a simple script; named (the remote binder says no) for an advanced one', () => {
  assert.deepEqual(bindArgs(['-Other', 'v'], S, false), [
    { name: null, value: '-Other' },
    { name: null, value: 'v' },
  ]);
  assert.deepEqual(bindArgs(['-Other', 'v', '-vb'], ADV, false), [
    { name: 'Other', value: 'v' },
    { name: 'Verbose', value: true },
  ]);
  // no table (the remote could not say): -Name takes the next token unless that is another -Name
  assert.deepEqual(bindArgs(['-A', '1', '-B', '-C'], undefined, false), [
    { name: 'A', value: '1' },
    { name: 'B', value: true },
    { name: 'C', value: true },
  ]);
});

test('-c arguments are PowerShell literals: numbers where they read as numbers, else strings', () => {
  assert.equal(literalArg('6'), 6);
  assert.equal(literalArg('-7'), -7);
  assert.equal(literalArg('0x10'), 16);
  assert.deepEqual(toPlain(literalArg('1.5') as PSValue), 1.5);
  assert.ok(literalArg('1.5') instanceof PSPrimitive && (literalArg('1.5') as PSPrimitive).tag === 'Db');
  assert.ok(literalArg('5000000000') instanceof PSPrimitive && (literalArg('5000000000') as PSPrimitive).tag === 'I64');
  for (const s of ['007x', 'abc', '1.2.3', '', '--', '1e', '+']) assert.equal(literalArg(s), s);
  assert.deepEqual(bindArgs(['6', '-Name', '7'], S, true), [
    { name: null, value: 6 },
    { name: 'Name', value: 7 },
  ]);
});

test('--param NAME=VALUE and NAME (a switch)', () => {
  assert.deepEqual(commandParams(['Format=o', 'AsUTC', '-Path=a=b', 'Empty=']), [
    { name: 'Format', value: 'o' },
    { name: 'AsUTC', value: true },
    { name: 'Path', value: 'a=b' },
    { name: 'Empty', value: '' },
  ]);
  assert.throws(() => commandParams(['=x']), /NAME=VALUE/);
});

test('a script reads pipeline input when it names $input, has a process block or a ValueFromPipeline parameter', () => {
  for (const s of [
    '$input | % { $_ }',
    '@($Input).Count',
    '${input}',
    'process { $_ }',
    'begin {} PROCESS\n{ $_ }',
    'param([Parameter(ValueFromPipeline)]$x) $x',
  ])
    assert.ok(readsPipelineInput(s), s);
  for (const s of ['Get-Date', '$inputFile = 1', 'Read-Host "name"', '"process"']) assert.ok(!readsPipelineInput(s), s);
});

test('--input-json: NDJSON streams, a document (pretty or an array) gives its values; objects are PSCustomObjects', async () => {
  const read = async (text: string) => {
    const out: PSValue[] = [];
    for await (const v of stdinJson(Readable.from([text]))) out.push(v);
    return out;
  };
  const nd = await read('{"a":1}\n\n{"a":2,"b":[1,"x"]}\n"s"\n');
  assert.equal(nd.length, 3);
  assert.ok(nd[0] instanceof PSObject && nd[0].isType('System.Management.Automation.PSCustomObject'));
  assert.deepEqual(
    nd.map((v) => toPlain(v)),
    [{ a: 1 }, { a: 2, b: [1, 'x'] }, 's'],
  );
  assert.deepEqual(
    (await read('[\n  {"a": 1},\n  {"a": 2}\n]\n')).map((v) => toPlain(v)),
    [{ a: 1 }, { a: 2 }],
  );
  assert.deepEqual(
    (await read('[1,2]')).map((v) => toPlain(v)),
    [1, 2],
  );
  assert.deepEqual(
    (await read('{\n "big": 5000000000, "f": 1.25, "n": null\n}')).map((v) => toPlain(v)),
    [{ big: 5000000000, f: 1.25, n: null }],
  );
  await assert.rejects(read('{ not json'), /--input-json/);
  assert.deepEqual(toPlain(jsonToPS({ nested: { x: true } })), { nested: { x: true } });
});

test(
  'text host: width to the remote, escape sequences removed unless colours, error lines counted, prompts refused while stdin is ' + 'input',
  () => {
    const got: string[] = [];
    const base = {
      ui: {
        write: (t: string) => {
          got.push(`w:${t}`);
        },
        writeLine: (t: string) => {
          got.push(`l:${t}`);
        },
        writeErrorLine: (t: string) => {
          got.push(`e:${t}`);
        },
        readLine: () => 'typed',
      },
    };
    const plain = textHost(base, { width: 77, color: false, stdinIsInput: true });
    assert.equal(plain.ui!.rawUI!.bufferSize!.width, 77);
    plain.ui!.writeLine!('\x1b[32;1mName\x1b[0m x');
    plain.ui!.write!('\x1b]0;title\x07plain');
    plain.ui!.writeErrorLine!('\x1b[31;1mboom\x1b[0m');
    assert.deepEqual(got, ['l:Name x', 'w:plain', 'e:boom']);
    assert.equal(plain.state.errorLines, 1);
    assert.throws(() => plain.ui!.readLine!(), /stdin is the pipeline input/);
    const color = textHost(base, { width: 80, color: true });
    color.ui!.writeLine!('\x1b[32;1mName\x1b[0m');
    color.ui!.writeErrorLine!('boom');
    assert.deepEqual(got.slice(3), ['l:\x1b[32;1mName\x1b[0m', 'e:\x1b[31;1mboom\x1b[0m']);
    assert.equal(color.ui!.readLine!(), 'typed');
    assert.equal(stripAnsi('a\x1b[0mb\x1b[?25lc'), 'abc');
  },
);

test("width: the terminal's, else $COLUMNS, else 120; colours only on a terminal without NO_COLOR", () => {
  const tty = { isTTY: true, columns: 99 } as NodeJS.WriteStream;
  const pipe = { isTTY: false, columns: 0 } as unknown as NodeJS.WriteStream;
  assert.equal(outputWidth(tty, {}), 99);
  assert.equal(outputWidth(pipe, { COLUMNS: '80' }), 80);
  assert.equal(outputWidth(pipe, { COLUMNS: 'wide' }), 120);
  assert.equal(outputWidth(pipe, {}), 120);
  assert.equal(colorWanted(tty, {}), true);
  assert.equal(colorWanted(tty, { NO_COLOR: '1' }), false);
  assert.equal(colorWanted(tty, { NO_COLOR: '' }), true);
  assert.equal(colorWanted(pipe, {}), false);
});
