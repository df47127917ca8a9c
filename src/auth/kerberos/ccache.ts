/**
 * MIT credential cache (FILE format version 4, also reads 3) and keytab (version 0x0502) codecs, plus the
 * KRB5CCNAME / KRB5_CLIENT_KTNAME resolution at the edge (FILE:, DIR:, plain paths).
 * Layout: MIT krb5 doc "ccache file format" and "keytab file format" (all integers big-endian).
 */
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { KerberosError } from '../../errors.js';
import type { Key } from './crypto.js';
import type { PrincipalName } from './messages.js';
import type { Krb5Config } from './config.js';

export interface Principal {
  name: PrincipalName;
  realm: string;
}

/** One ticket with its session key, as kept in a ccache and handed between the layers. */
export interface Credential {
  client: Principal;
  server: Principal;
  key: Key;
  authtime: Date;
  starttime: Date;
  endtime: Date;
  renewTill?: Date;
  flags: number;
  /** the Ticket DER */
  ticket: Uint8Array;
}

export interface CCache {
  defaultPrincipal: Principal;
  credentials: Credential[];
}

// ------------------------------------------------------------------------------------------------------------
// binary helpers
// ------------------------------------------------------------------------------------------------------------

class Reader {
  off = 0;
  constructor(
    readonly b: Uint8Array,
    readonly what: string,
  ) {}
  need(n: number): void {
    if (this.off + n > this.b.length) throw new KerberosError(`${this.what} is truncated at byte ${this.off}`);
  }
  u8(): number {
    this.need(1);
    return this.b[this.off++]!;
  }
  u16(): number {
    this.need(2);
    const v = (this.b[this.off]! << 8) | this.b[this.off + 1]!;
    this.off += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = ((this.b[this.off]! << 24) >>> 0) + (this.b[this.off + 1]! << 16) + (this.b[this.off + 2]! << 8) + this.b[this.off + 3]!;
    this.off += 4;
    return v;
  }
  i32(): number {
    return this.u32() | 0;
  }
  bytes(n: number): Uint8Array {
    if (n > 1 << 24) throw new KerberosError(`${this.what}: field of ${n} bytes is too large`);
    this.need(n);
    const v = this.b.slice(this.off, this.off + n);
    this.off += n;
    return v;
  }
  data32(): Uint8Array {
    return this.bytes(this.u32());
  }
  data16(): Uint8Array {
    return this.bytes(this.u16());
  }
  get done(): boolean {
    return this.off >= this.b.length;
  }
}

class Writer {
  private parts: number[] = [];
  u8(v: number): this {
    this.parts.push(v & 255);
    return this;
  }
  u16(v: number): this {
    this.parts.push((v >>> 8) & 255, v & 255);
    return this;
  }
  u32(v: number): this {
    this.parts.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
    return this;
  }
  bytes(b: Uint8Array): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  data32(b: Uint8Array): this {
    return this.u32(b.length).bytes(b);
  }
  data16(b: Uint8Array): this {
    return this.u16(b.length).bytes(b);
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

const latin1 = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const enc = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const secs = (d: Date) => Math.floor(d.getTime() / 1000) >>> 0;
const date = (s: number) => new Date(s * 1000);

// ------------------------------------------------------------------------------------------------------------
// ccache
// ------------------------------------------------------------------------------------------------------------

function readPrincipal(r: Reader, version: number): Principal {
  const nameType = version === 1 ? 0 : r.u32();
  let count = r.u32();
  if (version === 1) count--;
  if (count > 32) throw new KerberosError('credential cache principal has too many components');
  const realm = latin1(r.data32());
  const nameString: string[] = [];
  for (let i = 0; i < count; i++) nameString.push(latin1(r.data32()));
  return { name: { nameType, nameString }, realm };
}
function writePrincipal(w: Writer, p: Principal): void {
  w.u32(p.name.nameType).u32(p.name.nameString.length).data32(enc(p.realm));
  for (const s of p.name.nameString) w.data32(enc(s));
}

export function decodeCCache(b: Uint8Array): CCache {
  const r = new Reader(b, 'credential cache');
  if (r.u8() !== 5) throw new KerberosError('not an MIT credential cache (bad magic)');
  const version = r.u8();
  if (version < 1 || version > 4) throw new KerberosError(`credential cache format version ${version} is not supported`);
  if (version === 4) {
    const hl = r.u16();
    r.bytes(hl);
  }
  const defaultPrincipal = readPrincipal(r, version);
  const credentials: Credential[] = [];
  while (!r.done) {
    const client = readPrincipal(r, version);
    const server = readPrincipal(r, version);
    const keytype = r.u16();
    if (version === 3) r.u16();
    const keyvalue = r.data32();
    const authtime = r.u32(),
      starttime = r.u32(),
      endtime = r.u32(),
      renew = r.u32();
    const isSkey = r.u8();
    const flags = r.u32();
    const na = r.u32();
    if (na > 64) throw new KerberosError('credential cache: too many addresses');
    for (let i = 0; i < na; i++) {
      r.u16();
      r.data32();
    }
    const nd = r.u32();
    if (nd > 64) throw new KerberosError('credential cache: too many authdata');
    for (let i = 0; i < nd; i++) {
      r.u16();
      r.data32();
    }
    const ticket = r.data32();
    r.data32(); // second ticket
    if (server.realm === 'X-CACHECONF:' || isSkey) continue; // MIT configuration entries, user-to-user tickets
    credentials.push({
      client,
      server,
      key: { etype: keytype, value: keyvalue },
      flags,
      ticket,
      authtime: date(authtime),
      starttime: date(starttime || authtime),
      endtime: date(endtime),
      ...(renew ? { renewTill: date(renew) } : {}),
    });
  }
  return { defaultPrincipal, credentials };
}

function writeCredential(w: Writer, cr: Credential, version = 4): void {
  writePrincipal(w, cr.client);
  writePrincipal(w, cr.server);
  w.u16(cr.key.etype);
  if (version === 3) w.u16(cr.key.etype);
  w.data32(cr.key.value);
  w.u32(secs(cr.authtime))
    .u32(secs(cr.starttime))
    .u32(secs(cr.endtime))
    .u32(cr.renewTill ? secs(cr.renewTill) : 0);
  w.u8(0).u32(cr.flags).u32(0).u32(0).data32(cr.ticket).data32(new Uint8Array(0));
}

export function encodeCCache(c: CCache): Uint8Array {
  const w = new Writer();
  w.u8(5).u8(4).u16(0); // version 4, no header tags
  writePrincipal(w, c.defaultPrincipal);
  for (const cr of c.credentials) writeCredential(w, cr);
  return w.done();
}

/**
 * Store one more credential (a service ticket) in an existing ccache the way MIT's FILE type does: appended at the
 * end, the rest of the file (configuration entries, other tickets) untouched. Only into a regular file of format
 * 3 or 4 that this process's user owns, whose default principal is the credential's client; never creates one.
 * Returns why it did not store, or undefined when it did.
 */
export function storeCredential(name: string, cred: Credential): string | undefined {
  let path: string;
  let fd: number;
  try {
    path = ccachePath(name);
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | (constants.O_NOFOLLOW ?? 0));
  } catch (e) {
    return `cannot open ${name}: ${(e as Error).message}`;
  }
  try {
    const st = fstatSync(fd);
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    if (!st.isFile()) return `${path} is not a regular file`;
    if (uid !== undefined && st.uid !== uid) return `${path} belongs to uid ${st.uid}, not to this user`;
    const all = new Uint8Array(readFileSync(path));
    if (all[0] !== 5 || (all[1] !== 3 && all[1] !== 4)) return `${path} is not an MIT ccache of format 3 or 4`;
    if (!samePrincipal(decodeCCache(all).defaultPrincipal, cred.client)) return `${path} holds the tickets of another principal`;
    const w = new Writer();
    writeCredential(w, cred, all[1]);
    writeSync(fd, w.done()); // one write with O_APPEND, as MIT appends
    return undefined;
  } catch (e) {
    return `cannot write ${path}: ${(e as Error).message}`;
  } finally {
    closeSync(fd);
  }
}

/** The ccache to use: KRB5CCNAME, else [libdefaults] default_ccache_name, else FILE:/tmp/krb5cc_<uid>. */
export function defaultCCacheName(env: NodeJS.ProcessEnv = process.env, cfg?: Krb5Config): string {
  if (env.KRB5CCNAME) return env.KRB5CCNAME;
  const d = cfg?.libdefaults.default_ccache_name;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  if (d) return d.replace(/%\{uid\}/g, String(uid)).replace(/%\{TEMP\}/g, '/tmp');
  return `FILE:/tmp/krb5cc_${uid}`;
}

/** Resolve a ccache name to a file path. DIR:dir -> dir/<primary>; DIR::file -> file. Other types are refused. */
export function ccachePath(name: string, forWrite = false): string {
  const m = /^([A-Za-z]+):(.*)$/.exec(name);
  const type = m && m[1]!.length > 1 ? m[1]!.toUpperCase() : 'FILE';
  const rest = m && m[1]!.length > 1 ? m[2]! : name;
  if (type === 'FILE') return rest;
  if (type === 'DIR') {
    if (rest.startsWith(':')) return rest.slice(1);
    let primary = 'tkt';
    try {
      primary = readFileSync(join(rest, 'primary'), 'utf8').trim() || 'tkt';
    } catch {
      if (forWrite) {
        mkdirSync(rest, { recursive: true, mode: 0o700 });
        writeFileSync(join(rest, 'primary'), 'tkt\n', { mode: 0o600 });
      } else {
        try {
          const t = readdirSync(rest).find((f) => f.startsWith('tkt'));
          if (t) primary = t;
        } catch {
          /* no dir */
        }
      }
    }
    return join(rest, primary);
  }
  throw new KerberosError(
    `credential cache type ${type}: is not supported by winrm-ts (supported: FILE:, DIR:); set KRB5CCNAME=FILE:/path`,
  );
}

export function readCCache(name: string): CCache | undefined {
  const path = ccachePath(name);
  let b: Uint8Array;
  try {
    b = new Uint8Array(readFileSync(path));
  } catch {
    return undefined;
  }
  return decodeCCache(b);
}

/** Write atomically with mode 0600 (the file holds session keys). */
export function writeCCache(name: string, c: CCache): string {
  const path = ccachePath(name, true);
  if (!existsSync(dirname(path))) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, encodeCCache(c), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}

// ------------------------------------------------------------------------------------------------------------
// keytab
// ------------------------------------------------------------------------------------------------------------

export interface KeytabEntry {
  principal: Principal;
  timestamp: number;
  kvno: number;
  key: Key;
}

export function decodeKeytab(b: Uint8Array): KeytabEntry[] {
  const r = new Reader(b, 'keytab');
  if (r.u8() !== 5) throw new KerberosError('not a keytab file (bad magic)');
  const version = r.u8();
  if (version !== 1 && version !== 2) throw new KerberosError(`keytab version ${version} is not supported`);
  const out: KeytabEntry[] = [];
  while (!r.done) {
    const size = r.i32();
    if (size === 0) break;
    if (size < 0) {
      r.bytes(-size);
      continue;
    } // a hole
    const e = new Reader(r.bytes(size), 'keytab entry');
    let count = e.u16();
    if (version === 1) count--;
    if (count > 32) throw new KerberosError('keytab entry has too many components');
    const realm = latin1(e.data16());
    const nameString: string[] = [];
    for (let i = 0; i < count; i++) nameString.push(latin1(e.data16()));
    const nameType = version === 2 ? e.u32() : 1;
    const timestamp = e.u32();
    let kvno = e.u8();
    const keytype = e.u16();
    const value = e.data16();
    if (e.b.length - e.off >= 4) {
      const k32 = e.u32();
      if (k32) kvno = k32;
    }
    out.push({ principal: { name: { nameType, nameString }, realm }, timestamp, kvno, key: { etype: keytype, value } });
  }
  return out;
}

export function encodeKeytab(entries: KeytabEntry[]): Uint8Array {
  const w = new Writer();
  w.u8(5).u8(2);
  for (const e of entries) {
    const x = new Writer();
    x.u16(e.principal.name.nameString.length).data16(enc(e.principal.realm));
    for (const s of e.principal.name.nameString) x.data16(enc(s));
    x.u32(e.principal.name.nameType)
      .u32(e.timestamp)
      .u8(e.kvno & 255)
      .u16(e.key.etype)
      .data16(e.key.value)
      .u32(e.kvno);
    const body = x.done();
    w.u32(body.length).bytes(body);
  }
  return w.done();
}

export function keytabPath(name: string): string {
  const m = /^([A-Za-z]+):(.*)$/.exec(name);
  if (m && m[1]!.length > 1) {
    const t = m[1]!.toUpperCase();
    if (t !== 'FILE' && t !== 'WRFILE') throw new KerberosError(`keytab type ${t}: is not supported (use FILE:/path)`);
    return m[2]!;
  }
  return name;
}

export function readKeytab(name: string): KeytabEntry[] {
  const path = keytabPath(name);
  let b: Uint8Array;
  try {
    b = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new KerberosError(`cannot read the keytab ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return decodeKeytab(b);
}

export function samePrincipal(a: Principal, b: Principal): boolean {
  return (
    a.realm.toUpperCase() === b.realm.toUpperCase() &&
    a.name.nameString.length === b.name.nameString.length &&
    a.name.nameString.every((s, i) => s.toLowerCase() === b.name.nameString[i]!.toLowerCase())
  );
}
