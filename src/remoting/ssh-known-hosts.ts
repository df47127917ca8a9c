/**
 * OpenSSH known_hosts (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): parse the file and judge a presented host key.
 * Sans-IO: text and key blobs in, a verdict out. Supports comma-separated patterns with `*` / `?` wildcards and `!`
 * negation, `[host]:port` names for non-standard ports, hashed names (`|1|base64(salt)|base64(HMAC-SHA1(salt, name))`),
 * and the `@revoked` marker (`@cert-authority` lines are kept but never match: host certificates are not supported).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { fromBase64, toBase64 } from '../util/bytes.js';

/** One line of a known_hosts file. */
export interface KnownHostEntry {
  line: number;
  marker?: '@revoked' | '@cert-authority';
  /** plain patterns (lower case), or undefined for a hashed entry */
  patterns?: string[];
  /** hashed entry: salt and HMAC-SHA1 of the host name */
  hashed?: { salt: Uint8Array; hash: Uint8Array };
  keyType: string;
  key: Uint8Array;
}

export interface KnownHostsParse {
  entries: KnownHostEntry[];
  /** lines that were skipped as malformed (line number and why), as OpenSSH skips them */
  skipped: Array<{ line: number; why: string }>;
}

const B64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
/** the longest line we look at (OpenSSH's limit is 8 KiB for keys; certificates and PQ keys are bigger) */
const MAX_LINE = 64 * 1024;

/** Parse a known_hosts file's text. Malformed lines are skipped (and reported), never fatal. */
export function parseKnownHosts(text: string): KnownHostsParse {
  const entries: KnownHostEntry[] = [];
  const skipped: KnownHostsParse['skipped'] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const s = raw.trim();
    if (!s || s.startsWith('#')) return;
    if (s.length > MAX_LINE) {
      skipped.push({ line, why: 'line too long' });
      return;
    }
    const f = s.split(/[ \t]+/);
    let marker: KnownHostEntry['marker'];
    if (f[0]!.startsWith('@')) {
      if (f[0] !== '@revoked' && f[0] !== '@cert-authority') {
        skipped.push({ line, why: `unknown marker ${f[0]}` });
        return;
      }
      marker = f.shift() as KnownHostEntry['marker'];
    }
    if (f.length < 3) {
      skipped.push({ line, why: 'expected "hosts keytype base64-key"' });
      return;
    }
    const [hosts, keyType, keyB64] = f as [string, string, string];
    if (!B64_RE.test(keyB64) || keyB64.length % 4 !== 0) {
      skipped.push({ line, why: 'the key is not base64' });
      return;
    }
    const key = fromBase64(keyB64);
    const inner = keyBlobType(key);
    if (inner !== keyType) {
      skipped.push({ line, why: `the key blob is ${inner ?? 'malformed'}, not ${keyType}` });
      return;
    }
    const e: KnownHostEntry = { line, keyType, key };
    if (marker) e.marker = marker;
    if (hosts.startsWith('|')) {
      const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(hosts);
      const salt = m ? fromBase64(m[1]!) : undefined;
      const hash = m ? fromBase64(m[2]!) : undefined;
      if (!salt || !hash || salt.length !== 20 || hash.length !== 20) {
        skipped.push({ line, why: 'malformed hashed host name' });
        return;
      }
      e.hashed = { salt, hash };
    } else {
      e.patterns = hosts.toLowerCase().split(',').filter(Boolean);
      if (!e.patterns.length) {
        skipped.push({ line, why: 'no host patterns' });
        return;
      }
    }
    entries.push(e);
  });
  return { entries, skipped };
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise (lower case). */
export function knownHostName(host: string, port = 22): string {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return port === 22 ? h : `[${h}]:${port}`;
}

/** The type name at the start of an SSH public key blob (RFC 4253 6.6: string "ssh-ed25519" ...), or undefined. */
export function keyBlobType(blob: Uint8Array): string | undefined {
  if (blob.length < 4) return undefined;
  const n = ((blob[0]! << 24) >>> 0) + (blob[1]! << 16) + (blob[2]! << 8) + blob[3]!;
  if (n === 0 || n > 64 || 4 + n > blob.length) return undefined;
  const t = new TextDecoder().decode(blob.subarray(4, 4 + n));
  return /^[\x21-\x7e]+$/.test(t) ? t : undefined;
}

/** OpenSSH's fingerprint: `SHA256:` + unpadded base64 of SHA-256(blob). */
export function fingerprintSha256(blob: Uint8Array): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** `|1|salt|hash` line for a name, as `ssh-keygen -H` writes it (salt injectable for tests). */
export function hashHostName(name: string, salt: Uint8Array): string {
  const h = createHmac('sha1', salt).update(name).digest();
  return `|1|${toBase64(salt)}|${toBase64(h)}`;
}

/** OpenSSH match_pattern: `*` any run, `?` one character; case already folded. */
function globMatch(s: string, p: string): boolean {
  let si = 0,
    pi = 0,
    star = -1,
    mark = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === s[si])) {
      si++;
      pi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = si;
    } else if (star >= 0) {
      pi = star + 1;
      si = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** Does the entry name this host? (a matching `!pattern` excludes it, as in OpenSSH match_hostname) */
export function entryMatchesHost(e: KnownHostEntry, name: string): boolean {
  if (e.hashed) {
    const h = createHmac('sha1', e.hashed.salt).update(name).digest();
    return h.length === e.hashed.hash.length && timingSafeEqual(h, e.hashed.hash);
  }
  let hit = false;
  for (const p of e.patterns ?? []) {
    if (p.startsWith('!')) {
      if (globMatch(name, p.slice(1))) return false;
    } else if (globMatch(name, p)) hit = true;
  }
  return hit;
}

export type HostKeyVerdict =
  | { status: 'known'; line: number }
  | { status: 'revoked'; line: number }
  | { status: 'changed'; line: number; knownType: string }
  /** otherTypes: key types this host is known with (the server did not offer them) */
  | { status: 'unknown'; otherTypes: string[] };

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Judge the key a server presented for `host:port` against parsed known_hosts entries. */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, key: Uint8Array): HostKeyVerdict {
  const name = knownHostName(host, port);
  const type = keyBlobType(key);
  if (!type) throw new InvalidArgumentError('the server host key blob is malformed');
  for (const e of entries) if (e.marker === '@revoked' && sameBytes(e.key, key)) return { status: 'revoked', line: e.line };
  let changed: HostKeyVerdict | undefined;
  const other = new Set<string>();
  for (const e of entries) {
    if (e.marker || !entryMatchesHost(e, name)) continue;
    if (e.keyType === type) {
      if (sameBytes(e.key, key)) return { status: 'known', line: e.line };
      changed ??= { status: 'changed', line: e.line, knownType: e.keyType };
    } else other.add(e.keyType);
  }
  return changed ?? { status: 'unknown', otherTypes: [...other] };
}

/** The key types known for this host (to prefer those host key algorithms, as OpenSSH does). */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostName(host, port);
  const out: string[] = [];
  for (const e of entries) if (!e.marker && entryMatchesHost(e, name) && !out.includes(e.keyType)) out.push(e.keyType);
  return out;
}
