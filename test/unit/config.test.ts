/** The CLI config file (src/cli/config.ts): where it is, what it may hold, and how profiles meet the flags. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { InvalidArgumentError } from '../../src/index.js';
import { defaultConfigPath, loadConfig, parseConfig, profileFor, profileContext } from '../../src/cli/config.js';
import { addConnectionOptions, connectionFromOptions, type ConnectionFlags } from '../../src/cli/options.js';
import { addWinrmOptions } from '../../src/cli/commands/ps-winrm.js';
import { addSshOptions } from '../../src/cli/commands/ps-ssh.js';
import { hostFlags, parseHostList } from '../../src/cli/hosts.js';

const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-config-'));
function configFile(doc: unknown, name = `c${Math.random().toString(36).slice(2)}.json`): string {
  const p = join(dir, name);
  writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return p;
}

/** Parse argv with a `run`-like or `ps`-like command; returns the flag values the action sees. */
async function parse(argv: string[], kind: 'run' | 'ps' = 'run'): Promise<Record<string, unknown>> {
  const cmd = new Command(kind).exitOverride().argument('[words...]');
  if (kind === 'run') addConnectionOptions(cmd);
  else {
    addWinrmOptions(cmd);
    addSshOptions(cmd);
  }
  let seen: Record<string, unknown> | undefined;
  cmd.action((_w: string[], flags: Record<string, unknown>) => {
    seen = flags;
  });
  await cmd.parseAsync(argv, { from: 'user' });
  return seen!;
}

test('config path: $XDG_CONFIG_HOME/winrm-ts/config.json, else ~/.config/winrm-ts/config.json (a relative XDG value is ignored)', () => {
  assert.equal(defaultConfigPath({ XDG_CONFIG_HOME: '/x/cfg' }, '/home/u'), '/x/cfg/winrm-ts/config.json');
  assert.equal(defaultConfigPath({}, '/home/u'), '/home/u/.config/winrm-ts/config.json');
  assert.equal(defaultConfigPath({ XDG_CONFIG_HOME: 'rel' }, '/home/u'), '/home/u/.config/winrm-ts/config.json');
});

test('config path: a missing default file is no config; a missing --config file is an error naming it', () => {
  assert.equal(loadConfig(undefined, { env: { XDG_CONFIG_HOME: join(dir, 'nothing-here') } }), undefined);
  const missing = join(dir, 'absent.json');
  assert.throws(
    () => loadConfig(missing),
    (e: unknown) => e instanceof InvalidArgumentError && e.message.includes(missing) && /--config/.test(e.message),
  );
});

test('config: the XDG default file is read when present', () => {
  const xdg = join(dir, 'xdg');
  mkdirSync(join(xdg, 'winrm-ts'), { recursive: true });
  writeFileSync(join(xdg, 'winrm-ts', 'config.json'), JSON.stringify({ hosts: { web1: { host: '10.0.0.5' } } }));
  const cfg = loadConfig(undefined, { env: { XDG_CONFIG_HOME: xdg } })!;
  assert.equal(cfg.path, join(xdg, 'winrm-ts', 'config.json'));
  assert.equal(profileFor(cfg, 'web1')!.host, '10.0.0.5');
});

test("config: the issue's example parses; file paths are relative to the file, ~/ is the home directory, PEM text stays text", () => {
  const cfg = parseConfig(
    JSON.stringify({
      hosts: {
        web1: {
          host: '127.0.0.1:5985',
          user: 'EXAMPLE\\alice',
          auth: 'CredSSP',
          delegateTo: ['wsman/127.0.0.1'],
          https: true,
          ca: 'ca.pem',
          fingerprint: 'SHA256:ab',
          configurationName: 'JEA',
          proxy: 'http://p:3128',
          noproxy: '*.corp',
          tlsServerName: 'web1.corp.example',
          sshKey: '~/.ssh/id',
        },
        web2: { host: '[::1]:5986', ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', delegateTo: 'wsman/*.corp' },
      },
      defaults: { connectTimeout: 5, encryption: 'always' },
      trustedHosts: '*.corp.example, 192.168.1.*',
    }),
    '/etc/wt/config.json',
    '/home/u',
  );
  const w1 = cfg.hosts.web1!;
  assert.equal(w1.auth, 'credssp');
  assert.equal(w1.ca, '/etc/wt/ca.pem');
  assert.equal(w1.sshKey, '/home/u/.ssh/id');
  assert.deepEqual(w1.delegateTo, ['wsman/127.0.0.1']);
  assert.match(String(cfg.hosts.web2!.ca), /^-----BEGIN CERTIFICATE-----/);
  assert.deepEqual(cfg.hosts.web2!.delegateTo, ['wsman/*.corp']);
  assert.deepEqual(cfg.defaults, { connectTimeout: 5, encryption: 'always' });
  assert.deepEqual(cfg.trustedHosts, ['*.corp.example', '192.168.1.*']);
  // no trustedHosts key: no policy
  assert.equal(parseConfig('{"hosts":{}}', '/c.json').trustedHosts, undefined);
});

test('config validation: unknown keys and wrong types name the file, the key and what is allowed', () => {
  const f = '/tmp/my-config.json';
  const err = (doc: unknown, ...re: RegExp[]) =>
    assert.throws(
      () => parseConfig(typeof doc === 'string' ? doc : JSON.stringify(doc), f),
      (e: unknown) =>
        (e instanceof InvalidArgumentError && e.message.includes(f) && re.every((r) => r.test(e.message))) || assert.fail(String(e)),
    );
  err({ hosts: { web1: { hots: 'x' } } }, /hosts\.web1\.hots: unknown key; allowed: host, port, user/);
  err({ hosts: { web1: { https: 'yes' } } }, /hosts\.web1\.https: expected true or false; got string "yes"/);
  err({ hosts: { web1: { port: 70000 } } }, /hosts\.web1\.port: expected a port number/);
  err({ hosts: { web1: { auth: 'digest' } } }, /hosts\.web1\.auth: expected one of basic, negotiate, ntlm, credssp, kerberos, certificate/);
  err({ hosts: { web1: { delegateTo: [1] } } }, /hosts\.web1\.delegateTo: expected a list of strings/);
  err({ hosts: { web1: { connectTimeout: -1 } } }, /connectTimeout: expected a positive number/);
  err({ hosts: { web1: { host: 'a b' } } }, /hosts\.web1\.host: "a b" is not a host\[:port\]/);
  err({ hosts: { 'a,b': {} } }, /hosts\.a,b: a host name may not/);
  err({ hosts: [] }, /hosts: expected an object/);
  err({ defaults: { host: 'x' } }, /defaults\.host: unknown key in defaults/);
  err({ profiles: {} }, /profiles: unknown key; allowed at the top level: hosts, defaults, trustedHosts/);
  err({ trustedHosts: [1] }, /trustedHosts: expected a list of host patterns/);
  err('{ "hosts": ', /is not valid JSON/);
});

test('config validation: a password (or any secret) is refused, saying where passwords come from', () => {
  for (const doc of [
    { hosts: { web1: { password: 'x' } } },
    { defaults: { Password: 'x' } },
    { password: 'x' },
    { hosts: { w: { certPassphrase: 'x' } } },
  ]) {
    assert.throws(
      () => parseConfig(JSON.stringify(doc), '/c.json'),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        /never read from the config file/.test(e.message) &&
        /-p/.test(e.message) &&
        /WINRM_PASSWORD/.test(e.message) &&
        /prompt/.test(e.message) &&
        /keyring/.test(e.message) &&
        !e.message.includes('"x"'),
    );
  }
});

test("precedence: flags > the profile > defaults > built-in defaults (commander's value source tells a flag from a default)", async () => {
  const cfg = configFile({
    hosts: {
      web1: {
        host: '10.0.0.5:5985',
        user: 'EXAMPLE\\alice',
        auth: 'credssp',
        delegateTo: ['wsman/10.0.0.5'],
        encryption: 'never',
        operationTimeout: 40,
        configurationName: 'JEA',
      },
    },
    defaults: { connectTimeout: 7, operationTimeout: 30, user: 'EXAMPLE\\dflt', ntlmFallback: false },
  });
  const a = await parse(['--config', cfg, '-H', 'web1', 'x']);
  assert.equal(a.host, '10.0.0.5:5985');
  assert.equal(a.user, 'EXAMPLE\\alice'); // profile over defaults
  assert.equal(a.auth, 'credssp');
  assert.equal(a.encryption, 'never'); // profile over the built-in default 'auto'
  assert.equal(a.operationTimeout, 40); // profile over defaults
  assert.equal(a.connectTimeout, 7); // defaults
  assert.equal(a.ntlmFallback, false); // defaults over the built-in default (true)
  assert.equal(a.configurationName, undefined); // not a `run` option
  const b = await parse([
    '--config',
    cfg,
    '-H',
    'web1',
    '-u',
    'EXAMPLE\\bob',
    '--encryption',
    'auto',
    '--operation-timeout',
    '9',
    '--delegate-to',
    'wsman/x',
    'x',
  ]);
  assert.equal(b.user, 'EXAMPLE\\bob');
  assert.equal(b.encryption, 'auto'); // a flag equal to the built-in default still wins
  assert.equal(b.operationTimeout, 9);
  assert.deepEqual(b.delegateTo, ['wsman/x']);
  assert.equal(b.connectTimeout, 7);
  // a host that is not a profile: defaults only, the host as given
  const c = await parse(['--config', cfg, '-H', '10.9.9.9', 'x']);
  assert.equal(c.host, '10.9.9.9');
  assert.equal(c.user, 'EXAMPLE\\dflt');
  assert.equal(c.auth, undefined);
  // ps has --configuration-name
  const d = await parse(['--config', cfg, '-H', 'web1'], 'ps');
  assert.equal(d.configurationName, 'JEA');
  // NAME:PORT = the profile on another port (its host's address)
  const e = await parse(['--config', cfg, '-H', 'web1:6000', 'x']);
  assert.equal(e.host, '10.0.0.5:6000');
});

test('connection options from a profile: tlsServerName, inline CA, trusted hosts with the file named', async () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const cfg = configFile({
    hosts: {
      web1: {
        host: '10.0.0.5',
        https: true,
        ca: pem,
        tlsServerName: 'web1.corp.example',
        proxy: 'socks5h://127.0.0.1:1080',
        noproxy: '.lan',
      },
    },
    trustedHosts: ['*.corp.example'],
  });
  const f = await parse(['--config', cfg, '-H', 'web1', '-p', 'pw', 'x']);
  const c = await connectionFromOptions(f as unknown as ConnectionFlags);
  assert.equal(c.host, '10.0.0.5');
  assert.equal(c.https, true);
  assert.equal(c.ca, pem);
  assert.equal(c.tlsServerName, 'web1.corp.example');
  assert.equal(c.proxy, 'socks5h://127.0.0.1:1080');
  assert.equal(c.noProxy, '.lan'); // a per-host proxy
  assert.deepEqual(c.trustedHosts, ['*.corp.example']);
  assert.equal(c.trustedHostsSource, `"trustedHosts" in ${cfg}`);
  // no trustedHosts key: the library gets none (no policy)
  const none = await connectionFromOptions(
    (await parse(['--config', configFile({}), '-H', 'h', '-p', 'pw', 'x'])) as unknown as ConnectionFlags,
  );
  assert.equal(none.trustedHosts, undefined);
  // --tls-server-name as a flag
  const flag = await connectionFromOptions(
    (await parse(['--config', cfg, '-H', 'web1', '--tls-server-name', 'other', '-p', 'pw', 'x'])) as unknown as ConnectionFlags,
  );
  assert.equal(flag.tlsServerName, 'other');
});

test('the default config file is used without --config (XDG_CONFIG_HOME)', async () => {
  const xdg = join(dir, 'xdg2');
  mkdirSync(join(xdg, 'winrm-ts'), { recursive: true });
  writeFileSync(join(xdg, 'winrm-ts', 'config.json'), JSON.stringify({ hosts: { box: { host: '192.0.2.7', user: 'EXAMPLE\\carol' } } }));
  const old = process.env.XDG_CONFIG_HOME;
  process.env.XDG_CONFIG_HOME = xdg;
  try {
    const f = await parse(['-H', 'box', 'x']);
    assert.equal(f.host, '192.0.2.7');
    assert.equal(f.user, 'EXAMPLE\\carol');
  } finally {
    if (old === undefined) delete process.env.XDG_CONFIG_HOME;
    else process.env.XDG_CONFIG_HOME = old;
  }
});

test('a profile reached over SSH is refused by run, used by ps', async () => {
  const cfg = configFile({ hosts: { lin: { host: '192.0.2.8', ssh: true, user: 'alice' } } });
  await assert.rejects(
    parse(['--config', cfg, '-H', 'lin', 'x']),
    (e: unknown) => e instanceof InvalidArgumentError && /hosts\.lin is reached over SSH/.test(e.message) && /not run/.test(e.message),
  );
  const f = await parse(['--config', cfg, '-H', 'lin'], 'ps');
  assert.equal(f.ssh, true);
  assert.equal(f.host, '192.0.2.8');
});

test('fan-out: each name of a list (-H a,b / @file) resolves through the profiles; flags still win', async () => {
  const cfg = configFile({
    hosts: {
      web1: { host: '10.0.0.5', user: 'EXAMPLE\\alice', auth: 'ntlm' },
      web2: { host: '10.0.0.6:5986', https: true },
      lin: { host: '192.0.2.8', ssh: true },
    },
    defaults: { connectTimeout: 3 },
  });
  const list = join(dir, 'hosts.txt');
  writeFileSync(list, 'web2  # a profile\n10.1.1.1\n');
  const f = await parse(['--config', cfg, '-H', `web1,@${list}`, '--auth', 'negotiate', 'x']);
  assert.equal(f.host, `web1,@${list}`); // the list itself is untouched; names resolve per host
  assert.equal(f.connectTimeout, 3); // defaults apply to the whole list
  const names = parseHostList(f.host as string);
  assert.deepEqual(names, ['web1', 'web2', '10.1.1.1']);
  const [a, b, c] = names.map((n) => hostFlags(f, n));
  assert.equal(a!.host, '10.0.0.5');
  assert.equal(a!.user, 'EXAMPLE\\alice');
  assert.equal(a!.auth, 'negotiate');
  assert.equal(b!.host, '10.0.0.6:5986');
  assert.equal(b!.https, true);
  assert.equal(b!.user, undefined);
  assert.equal(c!.host, '10.1.1.1');
  assert.equal(c!.https, undefined);
  assert.equal(f.https, undefined, 'resolving one host does not change the shared flags');
  assert.ok(profileContext(a!), 'the context survives the copy');
  // one list, one transport
  const g = await parse(['--config', cfg, '-H', 'web1,lin'], 'ps');
  assert.throws(
    () => hostFlags(g, 'lin'),
    (e: unknown) => e instanceof InvalidArgumentError && /one list uses one transport/.test(e.message),
  );
});
