// Independent peer: Apache 2.4 + mod_auth_gssapi + gss-ntlmssp (NTLM over HTTP, connection-bound).
// Our initiator, raw NTLM ("NTLM" and "Negotiate" schemes) and SPNEGO, gets 200 with REMOTE_USER=EXAMPLE\alice;
// a wrong password gets 401. Apache is started on an ephemeral port by fixtures/apache/start.sh and stopped after.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasDebPackage, peerSkip } from '../helpers/peers.js';
import { NtlmInitiator } from '../../src/auth/ntlm/initiator.js';
import { SpnegoInitiator } from '../../src/auth/spnego/context.js';
import type { AuthContext } from '../../src/auth/types.js';
import { fromBase64, toBase64 } from '../../src/util/bytes.js';

const FIX = new URL('./fixtures/apache/', import.meta.url).pathname;
const present =
  hasDebPackage('apache2') &&
  hasDebPackage('libapache2-mod-auth-gssapi') &&
  hasDebPackage('gss-ntlmssp') &&
  existsSync('/usr/sbin/apache2');
const skip = peerSkip('apache2 + mod_auth_gssapi + gss-ntlmssp', present);
let run = '';
let port = 0;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** One HTTP/1.1 exchange on a kept-alive socket (enough for this peer: Content-Length bodies). */
class Conn {
  private buf = Buffer.alloc(0);
  private wake?: () => void;
  private closed = false;
  constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }
  static open(p: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = connect(p, '127.0.0.1', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }
  private async more(): Promise<void> {
    if (this.closed) throw new Error('connection closed by the server');
    await new Promise<void>((r) => {
      this.wake = r;
    });
    this.wake = undefined;
  }
  async get(path: string, auth?: string): Promise<{ status: number; headers: Array<[string, string]>; body: string }> {
    this.sock.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n${auth ? `Authorization: ${auth}\r\n` : ''}\r\n`);
    let end: number;
    while ((end = this.buf.indexOf('\r\n\r\n')) < 0) await this.more();
    const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(head[0]!.split(' ')[1]);
    const headers = head.slice(1).map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()] as [string, string];
    });
    this.buf = this.buf.subarray(end + 4);
    let body = '';
    if (headers.some(([k, v]) => k === 'transfer-encoding' && /chunked/i.test(v))) {
      for (;;) {
        let le: number;
        while ((le = this.buf.indexOf('\r\n')) < 0) await this.more();
        const n = parseInt(this.buf.subarray(0, le).toString(), 16);
        while (this.buf.length < le + 2 + n + 2) await this.more();
        body += this.buf.subarray(le + 2, le + 2 + n).toString();
        this.buf = this.buf.subarray(le + 2 + n + 2);
        if (n === 0) break;
      }
    } else {
      const len = Number(headers.find(([k]) => k === 'content-length')?.[1] ?? 0);
      while (this.buf.length < len) await this.more();
      body = this.buf.subarray(0, len).toString();
      this.buf = this.buf.subarray(len);
    }
    return { status, headers, body };
  }
  close(): void {
    this.sock.destroy();
  }
}

/** The 401 loop as a WinRM client runs it: one connection, tokens in Authorization / WWW-Authenticate. */
async function login(ctx: AuthContext, scheme: string): Promise<{ status: number; body: string; offered: string[]; error?: unknown }> {
  const c = await Conn.open(port);
  try {
    let tok = await ctx.step();
    for (let i = 0; i < 5; i++) {
      const r = await c.get('/whoami', `${scheme} ${toBase64(tok!)}`);
      const www = r.headers.filter(([k]) => k === 'www-authenticate').map(([, v]) => v);
      const mine = www.find((v) => v.toLowerCase().startsWith(scheme.toLowerCase() + ' '));
      if (r.status !== 401) {
        if (mine && !ctx.complete) await ctx.step(fromBase64(mine.slice(scheme.length + 1)));
        return { status: r.status, body: r.body, offered: www };
      }
      if (!mine || ctx.complete) return { status: r.status, body: r.body, offered: www };
      try {
        tok = await ctx.step(fromBase64(mine.slice(scheme.length + 1)));
      } catch (error) {
        return { status: r.status, body: r.body, offered: www, error }; // e.g. a SPNEGO reject on the final 401
      }
    }
    throw new Error('too many legs');
  } finally {
    c.close();
  }
}

before(async () => {
  if (skip) return;
  run = mkdtempSync(join(tmpdir(), 'winrm-ts-apache-'));
  writeFileSync(join(run, 'users'), 'EXAMPLE:alice:Passw0rd!\n');
  port = await freePort();
  execFileSync('sh', [join(FIX, 'start.sh'), run, String(port)], { stdio: 'pipe' });
});
after(() => {
  if (!run) return;
  try {
    execFileSync('sh', [join(FIX, 'stop.sh'), run], { stdio: 'pipe' });
  } finally {
    rmSync(run, { recursive: true, force: true });
  }
});

const creds = (password: string) => ({ credentials: { username: 'EXAMPLE\\alice', password }, spn: 'HTTP/localhost' });

test('Apache offers Negotiate and NTLM without credentials', { skip }, async () => {
  const c = await Conn.open(port);
  try {
    const r = await c.get('/whoami');
    assert.equal(r.status, 401);
    const www = r.headers.filter(([k]) => k === 'www-authenticate').map(([, v]) => v);
    assert.ok(www.includes('Negotiate') && www.includes('NTLM'), www.join(', '));
  } finally {
    c.close();
  }
});

for (const [name, make, scheme, mech] of [
  ['SPNEGO under Negotiate', (p: string) => new SpnegoInitiator(creds(p)), 'Negotiate', 'Negotiate/NTLM'],
  ['raw NTLM under NTLM', (p: string) => new NtlmInitiator({ ...creds(p), httpScheme: 'NTLM' }), 'NTLM', 'NTLM'],
  ['raw NTLM under Negotiate', (p: string) => new NtlmInitiator(creds(p)), 'Negotiate', 'NTLM'],
] as const) {
  test(`our initiator (${name}) gets 200 and REMOTE_USER=EXAMPLE\\alice`, { skip }, async () => {
    const ctx = make('Passw0rd!');
    assert.equal(ctx.httpScheme, scheme);
    const r = await login(ctx, scheme);
    assert.equal(r.status, 200, `${r.status} ${r.body} ${readFileSync(join(run, 'error.log'), 'utf8').split('\n').slice(-5).join('\n')}`);
    assert.match(r.body, /REMOTE_USER=EXAMPLE\\alice/);
    assert.match(r.body, new RegExp(`GSS_MECH=.*${mech.split('/').pop()}`));
    assert.ok(ctx.complete, 'the final token (if any) was processed');
  });

  test(`our initiator (${name}) with a wrong password gets 401`, { skip }, async () => {
    const r = await login(make('Zq9-notmine'), scheme);
    assert.equal(r.status, 401);
  });
}
