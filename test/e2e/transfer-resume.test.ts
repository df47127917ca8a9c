// copy / fetch killed midway (SIGKILL of the CLI) continue from the partial file when run again; a partial file
// whose bytes differ from the source is restarted, not trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PARTIAL_SUFFIX, type TransferEvent } from '../../src/index.js';
import { cliArgv, runCli } from '../helpers/cli.js';
import { PROJECT_ROOT } from '../helpers/peers.js';
import { useEndpoint, skip, dir, cliConn, randomFile, fileSha } from './transfer-fixture.js';

useEndpoint();

/** Run the CLI with --json, kill it (SIGKILL) once `killAt` bytes are done; resolves with the events seen. */
function runAndKill(args: string[], killAt: number): Promise<TransferEvent[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgv(args), { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const events: TransferEvent[] = [];
    let buf = '';
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const ev = JSON.parse(line) as TransferEvent;
        events.push(ev);
        if (ev.type === 'progress' && ev.doneBytes >= killAt) child.kill('SIGKILL');
      }
    });
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no progress to ${killAt} bytes: ${err}`));
    }, 240_000);
    child.on('close', (code, sig) => {
      clearTimeout(t);
      if (sig === 'SIGKILL') resolve(events);
      else reject(new Error(`the CLI ended by itself (${code}) before it was killed: ${err}`));
    });
  });
}

test('a copy and a fetch killed midway (SIGKILL) continue from the partial file when run again', { skip, timeout: 600_000 }, async () => {
  const src = join(dir, 'resume.src');
  const want = randomFile(src, 24 * 1024 * 1024);
  const remote = join(dir, 'resume.remote');
  const part = join(dir, `.resume.remote${PARTIAL_SUFFIX}`);
  await runAndKill(['copy', ...cliConn(), '--json', '--window', '2', src, remote], 6 * 1024 * 1024);
  assert.equal(existsSync(remote), false, 'nothing at the target after the kill');
  // the remote pwsh still writes the chunks that were in flight when the client died: wait until the file settles
  let partSize = -1;
  for (let i = 0; i < 60; i++) {
    const now = statSync(part).size;
    if (now === partSize) break;
    partSize = now;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(partSize > 0, 'a partial file is left');
  const again = await runCli(['copy', ...cliConn(), '--json', src, remote], { timeoutMs: 240_000 });
  assert.equal(again.code, 0, again.stderr);
  const evs = again.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TransferEvent & { movedBytes?: number; bytes?: number });
  const start = evs.find((e) => e.type === 'start') as Extract<TransferEvent, { type: 'start' }>;
  assert.ok(start.resumedBytes > 0 && start.resumedBytes <= partSize, `resumed from ${start.resumedBytes} (partial ${partSize})`);
  const done = evs.find((e) => (e.type as string) === 'done')!;
  assert.equal(done.movedBytes, 24 * 1024 * 1024 - start.resumedBytes, 'only the rest was sent');
  assert.equal(fileSha(remote), want);
  assert.equal(existsSync(part), false);

  const back = join(dir, 'resume.back');
  const lpart = join(dir, `.resume.back${PARTIAL_SUFFIX}`);
  await runAndKill(['fetch', ...cliConn(), '--json', '--window', '2', remote, back], 6 * 1024 * 1024);
  assert.equal(existsSync(back), false);
  assert.ok(statSync(lpart).size > 0);
  const f = await runCli(['fetch', ...cliConn(), '--json', remote, back], { timeoutMs: 240_000 });
  assert.equal(f.code, 0, f.stderr);
  const fs = f.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TransferEvent);
  const fstart = fs.find((e) => e.type === 'start') as Extract<TransferEvent, { type: 'start' }>;
  assert.ok(fstart.resumedBytes > 0, 'the fetch resumed');
  assert.equal(fileSha(back), want);
  assert.equal(existsSync(lpart), false);

  // a partial file whose bytes differ is not trusted: the fetch starts over and still ends right
  writeFileSync(lpart, randomBytes(1000));
  const r = await runCli(['fetch', ...cliConn(), '--json', remote, join(dir, 'resume.back')], { timeoutMs: 240_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes('"type":"restart"'), 'the mismatching partial file was restarted');
  assert.equal(fileSha(back), want);
});
