/**
 * The CLI's config file: named hosts (profiles), defaults for every host, and the trusted-hosts list.
 *
 *   { "hosts": { "web1": { "host": "127.0.0.1:5985", "user": "EXAMPLE\\alice", "auth": "credssp",
 *                          "delegateTo": ["wsman/127.0.0.1"] } },
 *     "defaults": { "connectTimeout": 10 },
 *     "trustedHosts": ["*.corp.example", "192.168.1.*"] }
 *
 * Where: `--config FILE`, else `$XDG_CONFIG_HOME/winrm-ts/config.json`, else `~/.config/winrm-ts/config.json` (a
 * missing default file = no profiles; a missing --config file is an error). Keys are the long flags in camelCase
 * (`--delegate-to` → `delegateTo`, `--tls-server-name` → `tlsServerName`); file paths (`ca`, `cert`, `sshKey` ...)
 * are relative to the config file's directory and may start with `~/`. Precedence: flags > the host's profile >
 * `defaults` > built-in defaults. Passwords are never read from it (flags, env WINRM_PASSWORD, the opt-in keyring, or a prompt).
 * Pure parsing and validation here; the commander wiring is in options.ts.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { parseHostPort } from '../client/client.js';
import { trustedHostsList } from '../client/trusted-hosts.js';

type Kind = 'string' | 'boolean' | 'port' | 'positive' | 'strings' | 'path' | 'ca' | readonly string[];

/** Every key a profile (and `defaults`) may hold, with its type; the name is the flag's attribute name. */
export const PROFILE_KEYS: Record<string, Kind> = {
  host: 'string',
  port: 'port',
  user: 'string',
  auth: ['basic', 'negotiate', 'ntlm', 'credssp', 'kerberos', 'certificate'],
  encryption: ['auto', 'always', 'never'],
  https: 'boolean',
  ca: 'ca',
  fingerprint: 'string',
  insecure: 'boolean',
  tlsServerName: 'string',
  allowUnencrypted: 'boolean',
  delegateTo: 'strings',
  credsspMinVersion: 'positive',
  spn: 'string',
  kerberosDelegate: 'boolean',
  kerberosDelegateAlways: 'boolean',
  ntlmFallback: 'boolean',
  connectTimeout: 'positive',
  operationTimeout: 'positive',
  readTimeout: 'positive',
  cert: 'path',
  certKey: 'path',
  certP12: 'path',
  proxy: 'string',
  noproxy: 'string',
  configurationName: 'string',
  keyring: 'boolean',
  ssh: 'boolean',
  sshKey: 'path',
  knownHosts: 'path',
  sshJump: 'string',
  insecureHostKey: 'boolean',
};
const TOP_KEYS = ['hosts', 'defaults', 'trustedHosts'];
/** Keys that would hold a secret: refused with where secrets come from. */
const SECRET_KEY = /pass(word|wd|phrase)?$|^pwd$|secret|token|nthash|^hash$|credential/i;
const SECRET_HELP =
  'secrets are never read from the config file (it is plain text on disk): give the password with -p, ' +
  'in env WINRM_PASSWORD, from the OS keyring with "keyring": true / --keyring (secret-tool), or at the prompt on a terminal ' +
  '(key passphrases: WINRM_CERT_PASSPHRASE / WINRM_SSH_PASSPHRASE)';

export type Profile = Record<string, unknown>;
export interface ConfigFile {
  path: string;
  hosts: Record<string, Profile>;
  defaults: Profile;
  /** undefined when the file has no `trustedHosts` key (no policy) */
  trustedHosts?: string[];
}

/** `$XDG_CONFIG_HOME/winrm-ts/config.json`, else `~/.config/winrm-ts/config.json`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.config'), 'winrm-ts', 'config.json');
}

/**
 * Load the config: `path` given → it must exist; undefined → the default path, and a missing file is no config.
 * `readFile` / `env` / `home` are injectable for tests.
 */
export function loadConfig(
  path: string | undefined,
  o: { env?: NodeJS.ProcessEnv; home?: string; readFile?: (p: string) => string } = {},
): ConfigFile | undefined {
  const read = o.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const file = path !== undefined ? resolve(path) : defaultConfigPath(o.env, o.home);
  let text: string;
  try {
    text = read(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (path === undefined && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return undefined;
    throw new InvalidArgumentError(`cannot read the config file ${file}${path !== undefined ? ' (--config)' : ''}: ${err.message}`);
  }
  return parseConfig(text, file, o.home);
}

/** Parse and validate the text of a config file (`file` names it in errors and anchors relative paths). */
export function parseConfig(text: string, file: string, home: string = homedir()): ConfigFile {
  const bad = (where: string, why: string) => new InvalidArgumentError(`config file ${file}: ${where}: ${why}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new InvalidArgumentError(`config file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw bad('top level', 'expected an object { "hosts": {...}, "defaults": {...}, "trustedHosts": [...] }');
  for (const k of Object.keys(doc)) {
    if (SECRET_KEY.test(k)) throw bad(k, SECRET_HELP);
    if (!TOP_KEYS.includes(k)) throw bad(k, `unknown key; allowed at the top level: ${TOP_KEYS.join(', ')}`);
  }
  const dir = dirname(file);
  const cfg: ConfigFile = { path: file, hosts: {}, defaults: {} };
  if (doc.hosts !== undefined) {
    if (!isObject(doc.hosts)) throw bad('hosts', 'expected an object of named hosts: { "web1": { "host": "10.0.0.5", ... } }');
    for (const [name, p] of Object.entries(doc.hosts)) {
      if (!name.trim() || /[\s,]/.test(name) || name.startsWith('@'))
        throw bad(
          `hosts.${name}`,
          'a host name may not be empty, contain spaces or commas, or start with @ (it is used in -H a,b,c lists)',
        );
      cfg.hosts[name] = parseProfile(p, `hosts.${name}`, bad, dir, home, true);
    }
  }
  if (doc.defaults !== undefined) cfg.defaults = parseProfile(doc.defaults, 'defaults', bad, dir, home, false);
  if (doc.trustedHosts !== undefined) {
    const t = doc.trustedHosts;
    if (!(typeof t === 'string' || (Array.isArray(t) && t.every((x) => typeof x === 'string')))) {
      throw bad(
        'trustedHosts',
        'expected a list of host patterns, e.g. ["*.corp.example", "192.168.1.*", "web1"] (or one comma-separated string)',
      );
    }
    cfg.trustedHosts = trustedHostsList(t);
  }
  return cfg;
}

function parseProfile(
  v: unknown,
  where: string,
  bad: (w: string, why: string) => Error,
  dir: string,
  home: string,
  isHost: boolean,
): Profile {
  if (!isObject(v)) throw bad(where, 'expected an object of settings, e.g. { "host": "10.0.0.5:5985", "user": "EXAMPLE\\\\alice" }');
  const out: Profile = {};
  for (const [k, val] of Object.entries(v)) {
    const at = `${where}.${k}`;
    if (SECRET_KEY.test(k)) throw bad(at, SECRET_HELP);
    const kind = PROFILE_KEYS[k];
    if (!kind || (k === 'host' && !isHost)) {
      throw bad(
        at,
        `unknown key${k === 'host' ? ' in defaults (a default host makes no sense: give -H)' : ''}; allowed: ${Object.keys(PROFILE_KEYS)
          .filter((x) => isHost || x !== 'host')
          .join(', ')}`,
      );
    }
    out[k] = checkValue(val, kind, at, bad, dir, home);
  }
  if (out.host !== undefined) {
    const h = String(out.host);
    const hp = parseHostPort(h);
    if (
      !hp.host ||
      /[\s,@]/.test(h) ||
      (hp.port !== undefined && (hp.port < 1 || hp.port > 65535)) ||
      (!hp.host.includes(':') && h.includes(':') && hp.port === undefined)
    ) {
      throw bad(`${where}.host`, `"${h}" is not a host[:port] (an IPv6 address goes in brackets: [::1]:5985)`);
    }
  }
  return out;
}

function checkValue(v: unknown, kind: Kind, at: string, bad: (w: string, why: string) => Error, dir: string, home: string): unknown {
  if (Array.isArray(kind)) {
    if (typeof v !== 'string' || !kind.includes(v.toLowerCase()))
      throw bad(at, `expected one of ${kind.join(', ')}; got ${JSON.stringify(v)}`);
    return v.toLowerCase();
  }
  switch (kind) {
    case 'string':
      if (typeof v !== 'string') throw bad(at, `expected a string; got ${describe(v)}`);
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw bad(at, `expected true or false; got ${describe(v)}`);
      return v;
    case 'port':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535)
        throw bad(at, `expected a port number 1..65535; got ${describe(v)}`);
      return v;
    case 'positive':
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(at, `expected a positive number; got ${describe(v)}`);
      return v;
    case 'strings':
      if (typeof v === 'string') return [v];
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
        throw bad(at, `expected a list of strings, e.g. ["wsman/web1.corp.example"]; got ${describe(v)}`);
      return [...v];
    case 'ca':
      if (typeof v !== 'string') throw bad(at, `expected a file name (PEM) or the PEM text; got ${describe(v)}`);
      return v.trimStart().startsWith('-----BEGIN') ? v : filePath(v, dir, home);
    case 'path':
      if (typeof v !== 'string' || !v) throw bad(at, `expected a file name; got ${describe(v)}`);
      return filePath(v, dir, home);
  }
}

function filePath(p: string, dir: string, home: string): string {
  if (p === '~' || p.startsWith('~/')) return join(home, p.slice(1));
  return resolve(dir, p);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * The profile a -H name refers to: `web1`, or `web1:5986` (the profile with another port). The connection goes to
 * the profile's `host` (the name itself when it has none).
 */
export function profileFor(cfg: ConfigFile | undefined, name: string): { profile: Profile; host: string; port?: number } | undefined {
  if (!cfg) return undefined;
  if (Object.hasOwn(cfg.hosts, name)) {
    const p = cfg.hosts[name]!;
    return { profile: p, host: (p.host as string | undefined) ?? name };
  }
  const hp = parseHostPort(name);
  if (hp.port !== undefined && Object.hasOwn(cfg.hosts, hp.host)) {
    const p = cfg.hosts[hp.host]!;
    const target = parseHostPort((p.host as string | undefined) ?? hp.host).host;
    return { profile: p, host: target.includes(':') ? `[${target}]:${hp.port}` : `${target}:${hp.port}`, port: hp.port };
  }
  return undefined;
}

/**
 * Merge settings into flag values: each layer (lowest first: `defaults`, then the profile) sets the keys that were
 * not given on the command line (`explicit`). `known` limits the keys to the command's options (a profile's
 * `configurationName` does not apply to `run`). Returns the keys set.
 */
export function mergeLayers(
  values: Record<string, unknown>,
  layers: Profile[],
  explicit: ReadonlySet<string>,
  known?: ReadonlySet<string>,
): string[] {
  const set: string[] = [];
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (k === 'host' || explicit.has(k) || (known && !known.has(k))) continue;
      values[k] = Array.isArray(v) ? [...v] : v;
      set.push(k);
    }
  }
  return set;
}

/** What the commander hook (options.ts) learned, carried on the flag values under a symbol (kept by `{ ...flags }`). */
export interface ProfileContext {
  config?: ConfigFile;
  /** the keys given on the command line: a profile never overrides them */
  explicit: ReadonlySet<string>;
  /** the option keys of the command */
  known: ReadonlySet<string>;
  /** one -H host: the profile is already applied to the flag values */
  single: boolean;
  /** the command's name, for messages */
  command: string;
}
export const PROFILE_CONTEXT = Symbol.for('winrm-ts.profile-context');

export function profileContext(flags: object): ProfileContext | undefined {
  return (flags as { [PROFILE_CONTEXT]?: ProfileContext })[PROFILE_CONTEXT];
}

/** Put a resolved profile into flag values: its settings (flags win) and the address to connect to. */
export function applyProfile(
  values: Record<string, unknown>,
  name: string,
  r: NonNullable<ReturnType<typeof profileFor>>,
  ctx: ProfileContext,
): void {
  const p = r.profile;
  if (p.ssh === true && !ctx.known.has('ssh')) {
    throw new InvalidArgumentError(
      `config file ${ctx.config?.path}: hosts.${name} is reached over SSH ("ssh": true): use it with ps, copy or fetch, not ${ctx.command}`,
    );
  }
  const layer = r.port !== undefined ? Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'port')) : p;
  mergeLayers(values, [layer], ctx.explicit, ctx.known);
  values.host = r.host;
}
