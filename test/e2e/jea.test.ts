// Session configurations of the endpoint: an unknown name gets Windows' fault; a restricted (JEA-like) configuration
// declared in a `--session-config` file is enforced by the real PowerShell (RestrictedRemoteServer .pssc): visible
// commands run, anything else fails, NoLanguage refuses scripts. Library API and CLI (`ps --configuration-name`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WSManFaultError, toPlain, PSObject, loadSessionConfigs } from '../../src/index.js';
import { Session } from '../../src/client/session.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { PSInvocationState } from '../../src/psrp/state.js';
import { parseSessionConfigs, psscText } from '../../src/server/psrp-config.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { runCli } from '../helpers/cli.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);

let ps: PsrpEndpoint;
let ep: Awaited<ReturnType<typeof startEndpoint>>;
let dir: string;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-jea-'));
  const file = join(dir, 'configs.json');
  writeFileSync(
    file,
    JSON.stringify([
      { name: 'JEARole', visibleCommands: ['Get-Date', 'Measure-Object'], language: 'NoLanguage' },
      { name: 'Helpdesk', visibleCommands: ['Get-Date'], language: 'FullLanguage' },
    ]),
  );
  ps = new PsrpEndpoint({ pwsh, configurations: loadSessionConfigs(file) });
  ep = await startEndpoint({ resources: ps.resources() });
});
after(async () => {
  if (skip) return;
  await ps.close();
  await ep.close();
  rmSync(dir, { recursive: true, force: true });
});

const open = (configurationName: string) =>
  Session.open({
    transport: 'wsman',
    computerName: `127.0.0.1:${ep.port}`,
    username: USER,
    password: PASSWORD,
    auth: 'basic',
    allowUnencrypted: true,
    configurationName,
  });

test('an unknown configuration name gets the fault Windows sends', { skip }, async () => {
  await assert.rejects(open('Microsoft.PowerShell2'), (e: unknown) => {
    assert.ok(e instanceof WSManFaultError, String(e));
    assert.equal(e.wsmanFaultCode, 2150858811);
    assert.equal(e.machine, 'hostA');
    assert.match(e.message, /Cannot find the Microsoft\.PowerShell2 session configuration in the WSMan: drive on the hostA computer/);
    return true;
  });
  assert.equal(ps.shells.size, 0, 'no pwsh was started');
});

test('JEA-like NoLanguage configuration: visible commands run, others and scripts fail', { skip }, async () => {
  const s = await open('JEARole');
  try {
    const ok = await s.invoke('Get-Date', { isCommand: true });
    assert.equal(ok.hadErrors, false);
    assert.equal(ok.output.length, 1);
    assert.ok(ok.output[0] instanceof PSObject || toPlain(ok.output[0]!) !== undefined);

    const hidden = await s.invoke('Get-ChildItem', { isCommand: true });
    assert.equal(hidden.hadErrors, true, 'a command outside the allow-list fails');
    assert.equal(hidden.output.length, 0);
    const why = hidden.streams.error.map((e) => (e as PSObject).toStringValue ?? '').join(' ');
    assert.match(why, /Get-ChildItem/);

    const script = await s.invoke('1 + 1');
    assert.equal(script.state, PSInvocationState.Failed);
    assert.match(script.streams.error.map((e) => (e as PSObject).toStringValue ?? '').join(' '), /no-language mode/);
  } finally {
    await s.close();
  }
});

test('CLI: ps --configuration-name with a restricted FullLanguage configuration', { skip }, async () => {
  const env = { ...process.env, WINRM_PASSWORD: PASSWORD };
  const base = [
    'ps',
    '-H',
    `127.0.0.1:${ep.port}`,
    '-u',
    USER,
    '--auth',
    'basic',
    '--allow-unencrypted',
    '--configuration-name',
    'Helpdesk',
  ];
  const ok = await runCli([...base, '-c', 'Get-Date -Format yyyy'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout.trim(), /^\d{4}$/);
  const denied = await runCli([...base, '-c', 'Get-ChildItem /'], { env });
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /Get-ChildItem/);
  assert.equal(denied.stdout.trim(), '');
});

test('session configuration file: validation and the generated .pssc', () => {
  assert.throws(() => parseSessionConfigs('{"name": "bad name"}'), /name/);
  assert.throws(() => parseSessionConfigs('{"name": "X", "language": "Klingon"}'), /language/);
  assert.throws(() => parseSessionConfigs('{"name": "X", "visibleCommands": ["Get-Date; rm -rf /"]}'), /visibleCommands/);
  assert.throws(() => parseSessionConfigs('not json'), /not JSON/);
  const [c] = parseSessionConfigs('{"name": "R", "visibleCommands": ["Get-Date"]}');
  const t = psscText(c!);
  assert.match(t, /SessionType = 'RestrictedRemoteServer'/);
  assert.match(t, /LanguageMode = 'NoLanguage'/);
  assert.match(t, /VisibleCmdlets = 'Get-Date'/);
});
