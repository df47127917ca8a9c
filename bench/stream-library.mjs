/**
 * The library in a process of its own for bench/stream.ts: the built client (dist/, no CLI: no commander, no option
 * parsing) runs one command line (Basic over HTTP) and counts its stdout bytes; prints {"bytes":N,"streamCpu":S}, S the
 * CPU seconds of the streaming alone (from the command's start to its exit code; process start-up not included).
 * usage: node bench/stream-library.mjs URL USER PASSWORD COMMAND_LINE
 */
import { connect } from '../dist/src/client/client.js';

const [url, user, password, line] = process.argv.slice(2);
const u = new URL(url);
const c = connect({ host: `${u.hostname}:${u.port}`, username: user, password, auth: 'basic', allowUnencrypted: true });
try {
  const shell = await c.openShell();
  const before = process.cpuUsage();
  const cmd = await shell.run(line);
  let bytes = 0;
  cmd.stderr.resume();
  for await (const d of cmd.stdout) bytes += d.length;
  await cmd.exitCode;
  const cpu = process.cpuUsage(before);
  await shell.close();
  console.log(JSON.stringify({ bytes, streamCpu: (cpu.user + cpu.system) / 1e6 }));
} finally {
  c.close();
}
