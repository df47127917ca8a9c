/**
 * krb5.conf (MIT profile format) reader: [libdefaults], [realms] REALM = { kdc = host[:port] }, [domain_realm].
 * Path: KRB5_CONFIG (colon-separated list; the first readable wins per key), else /etc/krb5.conf.
 * Pure parsing (`parseKrb5Conf`) plus a small file loader at the edge.
 */
import { readFileSync } from 'node:fs';

export interface Krb5Config {
  libdefaults: Record<string, string>;
  realms: Record<string, { kdc: string[]; [k: string]: string[] }>;
  domainRealm: Record<string, string>;
}

export function emptyConfig(): Krb5Config {
  return { libdefaults: {}, realms: {}, domainRealm: {} };
}

export function parseKrb5Conf(text: string, into: Krb5Config = emptyConfig()): Krb5Config {
  let section = '';
  let realm: string | undefined;
  let depth = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)[#;].*$/, '').trim();
    if (!line) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!.trim().toLowerCase();
      realm = undefined;
      depth = 0;
      continue;
    }
    if (line === '}') {
      depth = Math.max(0, depth - 1);
      if (depth === 0) realm = undefined;
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const key = kv[1]!.trim();
    const value = kv[2]!.trim();
    if (value === '{') {
      depth++;
      if (section === 'realms' && depth === 1) {
        realm = key;
        into.realms[realm] ??= { kdc: [] };
      }
      continue;
    }
    if (section === 'libdefaults' && depth === 0) {
      if (!(key in into.libdefaults)) into.libdefaults[key] = value;
    } else if (section === 'realms' && realm && depth === 1) {
      (into.realms[realm]![key] ??= []).push(value);
    } else if (section === 'domain_realm' && depth === 0) {
      if (!(key.toLowerCase() in into.domainRealm)) into.domainRealm[key.toLowerCase()] = value;
    }
  }
  return into;
}

/** Load the configuration from KRB5_CONFIG / /etc/krb5.conf (missing files are skipped). */
export function loadKrb5Config(env: NodeJS.ProcessEnv = process.env): Krb5Config {
  const cfg = emptyConfig();
  const paths = (env.KRB5_CONFIG ?? '/etc/krb5.conf').split(':').filter(Boolean);
  for (const p of paths) {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch {
      continue;
    }
    parseKrb5Conf(text, cfg);
  }
  return cfg;
}

export function configBool(v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  return /^(true|yes|on|1)$/i.test(v.trim());
}

/** The realm of a host: [domain_realm] exact name, then the longest ".suffix", else the default realm. */
export function realmForHost(cfg: Krb5Config, host: string): string | undefined {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (cfg.domainRealm[h]) return cfg.domainRealm[h];
  const labels = h.split('.');
  for (let i = 1; i < labels.length; i++) {
    const suffix = '.' + labels.slice(i).join('.');
    if (cfg.domainRealm[suffix]) return cfg.domainRealm[suffix];
  }
  return cfg.libdefaults.default_realm;
}

/** KDC addresses of a realm from the configuration ("host[:port]" or "[v6]:port"; default port 88). */
export function kdcsForRealm(cfg: Krb5Config, realm: string): Array<{ host: string; port: number }> {
  const entry = cfg.realms[realm] ?? Object.entries(cfg.realms).find(([k]) => k.toUpperCase() === realm.toUpperCase())?.[1];
  return (entry?.kdc ?? []).map((s) => {
    const v = s.replace(/^(tcp|udp|kkdcp):\/?\/?/i, '');
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(v) ?? /^([^:]+)(?::(\d+))?$/.exec(v);
    return { host: m?.[1] ?? v, port: m?.[2] ? Number(m[2]) : 88 };
  });
}
