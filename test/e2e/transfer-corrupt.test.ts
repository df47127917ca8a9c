// copy / fetch end to end: a chunk corrupted on the wire (a proxy flips one byte inside the data) is caught by the
// SHA-256 comparison, and the CLI (quiet when piped, - for stdout, --timeout, a missing remote path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Session, ChecksumMismatchError } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { useEndpoint, skip, session, dir, ep, opts, cliConn, randomFile } from './transfer-fixture.js';

useEndpoint();

/** A proxy in front of the endpoint that flips one character inside the first large `<BA>` payload it sees. */
async function corruptingProxy(action: 'Send' | 'Receive'): Promise<{ port: number; fired: () => boolean; close: () => Promise<void> }> {
  let fired = false;
  const flip = (xml: string): string => {
    if (fired) return xml;
    return xml.replace(/(<(?:\w+:)?Stream\b[^>]*>)([A-Za-z0-9+/=]+)(<\/(?:\w+:)?Stream>)/, (all, a: string, b64: string, z: string) => {
      const raw = Buffer.from(b64, 'base64');
      const at = raw.indexOf('<BA>');
      if (at < 0 || raw.length < 10_000) return all;
      const i = at + 4 + 5000; // a base64 character of the data, well inside the chunk
      raw[i] = raw[i] === 0x41 ? 0x42 : 0x41; // still base64: the bytes decode, differently
      fired = true;
      return a + raw.toString('base64') + z;
    });
  };
  const srv = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks).toString('utf8');
    if (action === 'Send' && body.includes('/Send</')) body = flip(body);
    const up = http.request(
      {
        host: '127.0.0.1',
        port: ep.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'content-length': Buffer.byteLength(body) },
      },
      async (ur) => {
        const uc: Buffer[] = [];
        for await (const c of ur) uc.push(c as Buffer);
        let out = Buffer.concat(uc).toString('utf8');
        if (action === 'Receive' && out.includes('ReceiveResponse')) out = flip(out);
        const h = { ...ur.headers };
        delete h['transfer-encoding'];
        h['content-length'] = String(Buffer.byteLength(out));
        res.writeHead(ur.statusCode ?? 500, h);
        res.end(out);
      },
    );
    up.on('error', () => res.destroy());
    up.end(body);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as { port: number }).port,
    fired: () => fired,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

test(
  'a chunk corrupted on the wire is detected by SHA-256 (copy and fetch): an error, and no file renamed into place',
  { skip },
  async () => {
    const src = join(dir, 'corrupt.src');
    randomFile(src, 2 * 1024 * 1024);
    for (const action of ['Send', 'Receive'] as const) {
      const proxy = await corruptingProxy(action);
      const s = await Session.open({ ...opts(), computerName: `127.0.0.1:${proxy.port}` });
      try {
        if (action === 'Send') {
          const remote = join(dir, 'corrupt.remote');
          await assert.rejects(
            s.copy(src, remote),
            (e: unknown) => e instanceof ChecksumMismatchError && e.side === 'remote' && e.expected !== e.actual,
          );
          assert.equal(existsSync(remote), false, 'the damaged upload is not renamed into place');
        } else {
          const remote = join(dir, 'corrupt.good');
          await session.copy(src, remote);
          const back = join(dir, 'corrupt.back');
          await assert.rejects(s.fetch(remote, back), (e: unknown) => e instanceof ChecksumMismatchError && e.side === 'local');
          assert.equal(existsSync(back), false, 'the damaged download is not renamed into place');
        }
        assert.ok(proxy.fired(), `the proxy corrupted a ${action}`);
      } finally {
        await s.close().catch(() => undefined);
        await proxy.close();
      }
    }
  },
);

test('CLI: copy and fetch with a progress-free pipe, --timeout, and a clear error for a missing remote path', { skip }, async () => {
  const src = join(dir, 'cli.txt');
  writeFileSync(src, 'hello from the CLI\n');
  const c = await runCli(['copy', ...cliConn(), src, join(dir, 'cli.remote.txt')], { timeoutMs: 240_000 });
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, '', 'nothing on stdout when piped');
  const f = await runCli(['fetch', ...cliConn(), join(dir, 'cli.remote.txt'), '-'], { timeoutMs: 240_000 });
  assert.equal(f.code, 0, f.stderr);
  assert.equal(f.stdout, 'hello from the CLI\n');
  const m = await runCli(['fetch', ...cliConn(), join(dir, 'missing.txt'), join(dir, 'x')], { timeoutMs: 240_000 });
  assert.equal(m.code, 1);
  assert.match(m.stderr, /remote '.*missing\.txt' does not exist/);
  const t = await runCli(['copy', ...cliConn(), '--timeout', '0.001', src, join(dir, 'never.txt')], { timeoutMs: 240_000 });
  assert.equal(t.code, 1);
  assert.match(t.stderr, /did not finish within 0\.001 s/);
});
