// Shared by the double-hop e2e files: `winrm-ts serve` endpoints started through the CLI on 127.0.0.1:0 with one
// users file (EXAMPLE\\alice), their logs collected; `hop1` runs `winrm-ts run` against one of them as alice.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv, runCli } from '../helpers/cli.js';
import { PROJECT_ROOT } from '../helpers/peers.js';

export const USER = 'EXAMPLE\\alice';
export const PASSWORD = 'Passw0rd!';

export interface Endpoint {
  name: string;
  port: number;
  log: () => string;
  child: ChildProcess;
}

export class Hosts {
  private readonly dir = mkdtempSync(join(tmpdir(), 'winrm-ts-double-hop-'));
  private readonly usersFile = join(this.dir, 'users');
  private readonly endpoints: Endpoint[] = [];
  constructor() {
    writeFileSync(this.usersFile, `${USER}:${PASSWORD}\n`, { mode: 0o600 });
  }

  start(name: string, args: string[]): Promise<Endpoint> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        cliArgv(['serve', '--listen', '127.0.0.1:0', '--users', this.usersFile, '--name', name, ...args]),
        {
          cwd: PROJECT_ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      const ep: Endpoint = { name, port: 0, log: () => out, child };
      this.endpoints.push(ep);
      const onData = (d: Buffer) => {
        out += d.toString('utf8');
        const m = /listening on https?:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
        if (m && !ep.port) {
          ep.port = Number(m[1]);
          resolve(ep);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        if (!ep.port) reject(new Error(`serve ${name} exited with ${code}: ${out}`));
      });
    });
  }

  logs(): Array<[string, string]> {
    return this.endpoints.map((e) => [e.name, e.log()]);
  }

  stop(): void {
    for (const e of this.endpoints) e.child.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `winrm-ts run -H 127.0.0.1:PORT -u alice -p ... AUTH -- INNER` (INNER is one operand: a command line on the host). */
export const hop1 = (ep: Endpoint, auth: string[], inner: string) =>
  runCli(['run', '-H', `127.0.0.1:${ep.port}`, '-u', USER, '-p', PASSWORD, ...auth, '--', inner], { timeoutMs: 90_000 });
