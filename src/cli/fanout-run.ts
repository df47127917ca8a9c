/**
 * `winrm-ts run -H a,b,c | -H @hosts.txt [--throttle N] [--group] [--json] [--host-timeout S] -- COMMAND ARGS...`
 * The same command on many hosts from one process (src/client/fanout.ts), printed by FanoutPrinter
 * (src/cli/fanout-output.ts). With `--queue redis://HOST:PORT` the hosts go to a BullMQ queue instead and
 * `winrm-ts worker` processes run them (src/queue/). Credentials are read once (-p, WINRM_PASSWORD or one prompt)
 * and used for every host; each host gets its own connection, so CredSSP's delegate list is checked for each
 * host before anything is sent to it. Local stdin is not sent to the hosts. Uses only the public API.
 */
import { Option, type Command } from 'commander';
// the modules behind the public API (src/index.ts), so that `run` starts without loading every layer
import { InvalidArgumentError } from '../errors.js';
import { connect, parseHostPort, type ConnectOptions } from '../client/client.js';
import { fanout, DEFAULT_THROTTLE } from '../client/fanout.js';
import { FanoutPrinter, LineSplitter } from './fanout-output.js';
import { printFanout, untilInterrupted } from './fanout-drive.js';
import { hostFlags, isHostList, parseHostList } from './hosts.js';
import { profileContext, profileFor } from './config.js';
import { connectionFromOptions, type ConnectionFlags } from './options.js';
import type { FanoutFlags, RunSpec } from './fanout-spec.js';

export type { FanoutFlags, RunSpec };

const posInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${v}`);
  return n;
};
const posNum = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got ${v}`);
  return n;
};

/** The many-hosts flags (`run` with queue: true, `ps` without). */
export function addFanoutOptions(cmd: Command, o: { queue: boolean }): Command {
  cmd
    .option('--throttle <n>', `many hosts (-H a,b,c or -H @hosts.txt): hosts at a time (default ${DEFAULT_THROTTLE})`, posInt('--throttle'))
    .option('--group', "many hosts: print each host's output together when it finishes, instead of [host]-prefixed lines")
    .option(
      '--host-timeout <s>',
      'many hosts: give up on a host after this many seconds in all (default: no limit beyond the connect/operation timeouts)',
      posNum('--host-timeout'),
    );
  if (!cmd.options.some((x) => x.long === '--json')) cmd.option('--json', 'NDJSON output, each line with PSComputerName (many hosts)');
  if (o.queue) {
    cmd
      .option(
        '--queue <redis-url>',
        'submit one job per host to a BullMQ queue on Redis (redis://HOST:PORT); `winrm-ts worker` processes run them',
      )
      .addOption(new Option('--queue-name <name>', 'BullMQ queue name').default('winrm-ts'))
      .option('--retry-lost', 'queue: run a host again when the worker running it died (default: report "outcome unknown")');
  }
  return cmd;
}

/** True when `run` should take the many-hosts path. */
export function wantsRunFanout(f: ConnectionFlags & FanoutFlags): boolean {
  return isHostList(f.host) || !!f.queue || !!f.json || !!f.group || f.throttle !== undefined || f.hostTimeout !== undefined;
}

export function runSpecFromFlags(words: string[], f: { cwd?: string; env?: string[]; codepage?: string; profile?: boolean }): RunSpec {
  const environment: Record<string, string> = {};
  for (const kv of f.env ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`--env expects K=V, got ${kv}`);
    environment[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const codepage = f.codepage === undefined ? 65001 : Number(f.codepage);
  if (!Number.isInteger(codepage) || codepage <= 0) throw new InvalidArgumentError(`--codepage must be a number, got ${f.codepage}`);
  return { words, cwd: f.cwd, environment, codepage, noProfile: f.profile === false ? true : undefined };
}

/** Connection options for one host of the list (the base options hold the credentials, read once). */
export function hostOptions(base: ConnectOptions, host: string, portFlag?: number): ConnectOptions {
  const hp = parseHostPort(host);
  return { ...base, host: hp.host, port: hp.port ?? portFlag };
}

/** Sink for one host's run output: lines of stdout/stderr. */
export type RunLineSink = (stream: 'stdout' | 'stderr', line: string) => Promise<void> | void;

/** Run the command on one host; lines go to `sink` (awaited: backpressure); returns the exit code. */
export async function runOnHost(conn: ConnectOptions, spec: RunSpec, sink: RunLineSink, signal: AbortSignal): Promise<number> {
  const client = connect(conn);
  try {
    const shell = await client.openShell({
      codepage: spec.codepage,
      workingDirectory: spec.cwd,
      environment: spec.environment,
      noProfile: spec.noProfile,
      signal,
    });
    try {
      // one operand is a whole command line; several are quoted where needed by the library (as `run` does)
      const [command, ...rest] = spec.words;
      const cmd = await shell.run(command!, rest, { signal });
      const pump = async (r: AsyncIterable<Buffer>, stream: 'stdout' | 'stderr') => {
        const sp = new LineSplitter();
        for await (const chunk of r) for (const l of sp.push(chunk)) await sink(stream, l);
        for (const l of sp.end()) await sink(stream, l);
      };
      const [code] = await Promise.all([cmd.exitCode, pump(cmd.stdout, 'stdout'), pump(cmd.stderr, 'stderr')]);
      return code;
    } finally {
      await shell.close({ signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    }
  } finally {
    client.close();
  }
}

/** `run` over many hosts, in this process. Returns the exit code. */
export async function runFanout(
  words: string[],
  flags: ConnectionFlags & FanoutFlags & { cwd?: string; env?: string[]; codepage?: string; profile?: boolean },
): Promise<number> {
  const hosts = parseHostList(flags.host);
  const spec = runSpecFromFlags(words, flags);
  if (flags.queue) {
    const named = hosts.find((h) => profileFor(profileContext(flags)?.config, h));
    if (named)
      throw new InvalidArgumentError(
        `--queue: ${named} is a named host of the config file; the workers do not read it: list addresses (host[:port]) for a queued run`,
      );
    const { submitRun } = await import('./queue/submit.js');
    return submitRun(hosts, spec, flags);
  }
  // each name through the config file's profiles; the password is read once (for the first host with a user)
  const perHost = hosts.map((h) => hostFlags(flags, h));
  const base = await connectionFromOptions(perHost.find((f) => f.user) ?? perHost[0]!);
  const flagsOf = new Map(hosts.map((h, i) => [h, perHost[i]!]));
  // a host's own settings (a profile's CA file ...) that cannot be read fail that host only
  const connFor = async (host: string): Promise<ConnectOptions> => {
    const c = await connectionFromOptions({ ...flagsOf.get(host)!, password: base.password });
    return hostOptions(c, c.host, c.port);
  };
  const printer = new FanoutPrinter(hosts, { json: !!flags.json, group: !!flags.group });
  return untilInterrupted((signal) =>
    printFanout(
      fanout<{ stream: 'stdout' | 'stderr'; line: string }, number>(
        hosts,
        async (host, ctx) => runOnHost(await connFor(host), spec, (stream, line) => ctx.emit({ stream, line }), ctx.signal),
        { throttle: flags.throttle, timeoutMs: flags.hostTimeout ? flags.hostTimeout * 1000 : undefined, signal },
      ),
      printer,
      {
        data: (host, d) => printer.line(host, d.stream, d.line),
        done: (_host, exitCode) => ({ kind: 'exit', exitCode }),
      },
    ),
  );
}

/** Flush stdout, then end the process with `code` (connections and timers of finished hosts do not hold it). */
export async function exitWith(code: number): Promise<void> {
  process.exitCode = code;
  await new Promise<void>((r) => process.stdout.write('', () => r()));
  setImmediate(() => process.exit(code));
}
