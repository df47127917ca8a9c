/**
 * Child process of bench/winrs.ts: our client measured in its own process (so its peak RSS is its own).
 * usage: node --import tsx bench/winrs-client.ts URL USER PASSWORD MODE ARG
 *   stream BYTES   one command writing BYTES to stdout; prints JSON {bytes, seconds, maxRssMB, requests}
 *   many N         N sequential `echo x` on one shell; prints JSON {seconds, n}
 *   roundtrips     one short command (open + run + close); prints JSON {requests}
 * optional 6th argument: MaxEnvelopeSize in bytes (default 153600)
 */
import { connect } from '../src/client/client.js';

const [url, user, password, mode, arg, mes] = process.argv.slice(2) as [string, string, string, string, string, string | undefined];
const u = new URL(url);
const c = connect({
  host: `${u.hostname}:${u.port}`,
  username: user,
  password,
  auth: 'basic',
  allowUnencrypted: true,
  maxEnvelopeSize: mes ? Number(mes) : undefined,
});
try {
  if (mode === 'stream') {
    const shell = await c.openShell();
    const t0 = performance.now();
    const cmd = await shell.run('head', ['-c', arg, '/dev/zero']);
    let n = 0;
    for await (const d of cmd.stdout) n += (d as Buffer).length;
    await cmd.exitCode;
    const seconds = (performance.now() - t0) / 1000;
    await shell.close();
    const cpu = process.cpuUsage();
    console.log(
      JSON.stringify({
        bytes: n,
        seconds,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        maxRssMB: process.resourceUsage().maxRSS / 1024,
        requests: c.stats.requests,
      }),
    );
  } else if (mode === 'many') {
    const shell = await c.openShell();
    const n = Number(arg);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const r = await shell.exec('echo', ['x']);
      if (r.stdout.toString() !== 'x\n') throw new Error('bad output');
    }
    const seconds = (performance.now() - t0) / 1000;
    await shell.close();
    console.log(JSON.stringify({ seconds, n }));
  } else if (mode === 'roundtrips') {
    const before = c.stats.requests;
    await c.exec('echo', ['x']);
    console.log(JSON.stringify({ requests: c.stats.requests - before }));
  } else throw new Error(`unknown mode ${mode}`);
} finally {
  c.close();
}
