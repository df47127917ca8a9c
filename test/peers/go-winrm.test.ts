/** Independent peer: Go masterzen/winrm (Debian golang-github-masterzen-winrm-dev) against our endpoint, Basic. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { peerSkip, hasCommand } from '../helpers/peers.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
// @ts-expect-error plain ESM helper without types
import { goPeer } from './fixtures/go/build.mjs';

const present = hasCommand('go') && existsSync('/usr/share/gocode/src/github.com/masterzen/winrm');
const skip = peerSkip('Go masterzen/winrm', present, 'apt-get install golang-go golang-github-masterzen-winrm-dev');
let bin: string;
let ep: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  if (!skip) {
    bin = goPeer();
    ep = await startEndpoint();
  }
});
after(async () => {
  await ep?.close();
});

function go(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = execFile(bin, [ep.url, USER, PASSWORD, ...args], { timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
    c.stdin!.end(input);
  });
}

test('Go client: stdout, stderr, exit codes, stdin', { skip }, async () => {
  let r = await go(['echo', 'hello']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello\n');
  r = await go(['sh', '-c', "'echo boom 1>&2; exit 3'"]);
  assert.equal(r.code, 3);
  assert.equal(r.stderr, 'boom\n');
  r = await go(['cat'], 'from go stdin\n');
  assert.equal(r.stdout, 'from go stdin\n');
  r = await go(['echo', 'ünïcödé']);
  assert.equal(r.stdout, 'ünïcödé\n');
});
