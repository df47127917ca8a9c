/** Independent peer: pywinrm 0.3.0 (Debian python3-winrm) runs commands against our endpoint with Basic. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { hasDebPackage, peerSkip, PROJECT_ROOT } from '../helpers/peers.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';

const skip = peerSkip('pywinrm (python3-winrm)', hasDebPackage('python3-winrm'), 'apt-get install python3-winrm');
const DRIVER = join(PROJECT_ROOT, 'test/peers/fixtures/pywinrm_driver.py');
let ep: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  if (!skip) ep = await startEndpoint();
});
after(async () => {
  await ep?.close();
});

function py(...args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/python3', [DRIVER, ep.url, USER, PASSWORD, 'basic', ...args], { timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}
const dec = (s: unknown) => Buffer.from(String(s), 'base64').toString('utf8');

test('run_cmd: stdout, stderr, exit codes, UTF-8 (as acceptance A4)', { skip }, async () => {
  let r = await py('run', 'echo', 'hello');
  assert.equal(r.code, 0);
  assert.equal(dec(r.stdout).trim(), 'hello');
  r = await py('run', 'sh', '-c', "'echo bad 1>&2; exit 3'");
  assert.equal(r.code, 3);
  assert.match(dec(r.stderr), /bad/);
  r = await py('run', 'cmd', '/c', 'echo 日本語 🎉');
  assert.equal(dec(r.stdout), '日本語 🎉\n');
  r = await py('run', 'sh', '-c', "'exit 255'");
  assert.equal(r.code, 255);
});

test('pywinrm needs 5 requests for a short command (Create, Command, Receive, Signal, Delete)', { skip }, async () => {
  const r = await py('roundtrips', 'echo', 'x');
  assert.equal(r.requests, 5);
});
