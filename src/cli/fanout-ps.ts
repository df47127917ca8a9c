/**
 * `winrm-ts ps -H a,b,c | -H @hosts.txt [--throttle N] [--group] [--json] [--host-timeout S] -c SCRIPT | -f FILE`
 * Invoke-Command -ComputerName a,b,c: the same script on many hosts from one process (PSRP over WinRM, or over
 * SSH with --ssh). Output objects print as `[host] text`, or with --json as one JSON line each with PSComputerName;
 * error records go to stderr as `[host] message`; a host fails when its pipeline had errors or it could not be
 * reached. The password is read once (-p, WINRM_PASSWORD or one prompt) and used for every host; host calls
 * (Read-Host, prompts) are answered "not interactive". Uses only the public API.
 */
import { readFile } from 'node:fs/promises';
import {
  fanout, Session, toPlain, describeRemoteError, nonInteractiveHost, InvalidArgumentError, PSInvocationState,
  type ClixmlValue, type SessionOptions,
} from '../index.js';
import { FanoutPrinter } from './fanout-output.js';
import { errorOutcome, type FanoutFlags } from './fanout-run.js';
import { isHostList, parseHostList } from './hosts.js';
import { promptPassword } from './options.js';
import { formatValue } from './format.js';
import { SSH_SESSION_SOURCE } from './commands/ps-ssh.js';
import { WINRM_SESSION_SOURCE } from './commands/ps-winrm.js';

type PsFanoutFlags = FanoutFlags & { host?: string; user?: string; password?: string; ssh?: boolean; sshKey?: string; local?: boolean; command?: string; file?: string; json?: boolean; [k: string]: unknown };

/** True when `ps` should take the many-hosts path. */
export function wantsPsFanout(f: PsFanoutFlags): boolean {
  return !f.local && (isHostList(f.host) || !!f.group || f.throttle !== undefined || f.hostTimeout !== undefined);
}

type PsItem = { kind: 'object'; plain: unknown; text: string | undefined } | { kind: 'message'; text: string };

/** `ps` over many hosts. Returns the exit code. */
export async function psFanout(args: string[], flags: PsFanoutFlags): Promise<number> {
  if (!flags.host) throw new InvalidArgumentError('many hosts: give -H a,b,c or -H @hosts.txt');
  if (!!flags.command === !!flags.file) throw new InvalidArgumentError('give exactly one of -c SCRIPT or -f FILE');
  if (flags.command && args.length) throw new InvalidArgumentError(`unexpected arguments ${JSON.stringify(args)}: arguments go with -f FILE`);
  const hosts = parseHostList(flags.host);
  let script = flags.command!;
  if (flags.file) {
    try { script = (await readFile(flags.file, 'utf8')).replace(/^\uFEFF/, ''); } catch (e) { throw new InvalidArgumentError(`cannot read ${flags.file}: ${(e as Error).message}`); }
  }
  // credentials once, for every host
  const f = { ...flags };
  if (f.user && f.password === undefined && process.env.WINRM_PASSWORD === undefined && !(f.ssh && (f.sshKey || process.env.SSH_AUTH_SOCK))) {
    f.password = await promptPassword(`Password for ${f.user}: `);
  }
  const source = f.ssh ? SSH_SESSION_SOURCE : WINRM_SESSION_SOURCE;
  const printer = new FanoutPrinter(hosts, { json: !!f.json, group: !!f.group });
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig); process.once('SIGTERM', onSig);
  try {
    const events = fanout<PsItem, boolean>(hosts, async (host, ctx) => {
      const opts = await source.options({ ...f, host } as never) as SessionOptions;
      // no eager RSA key exchange per host (CPU): SecureStrings still work, the keys are exchanged when first needed
      const session = await Session.open({ ...opts, host: nonInteractiveHost, exchangeKeys: false, signal: ctx.signal });
      let hadErrors = false;
      try {
        for await (const ev of session.stream(script, { args: f.file ? args : undefined, signal: ctx.signal })) {
          switch (ev.type) {
            case 'output': await ctx.emit({ kind: 'object', plain: toPlain(ev.value), text: formatValue(ev.value) }); break;
            case 'error': hadErrors = true; await ctx.emit({ kind: 'message', text: describeRemoteError(ev.record as ClixmlValue) }); break;
            case 'state':
              if (ev.state === PSInvocationState.Failed) { hadErrors = true; if (ev.error !== undefined) await ctx.emit({ kind: 'message', text: describeRemoteError(ev.error as ClixmlValue) }); }
              if (ev.state === PSInvocationState.Stopped) hadErrors = true;
              break;
            default: break;
          }
        }
      } finally { await session.close().catch(() => undefined); }
      return hadErrors;
    }, { throttle: f.throttle, timeoutMs: f.hostTimeout ? f.hostTimeout * 1000 : undefined, signal: ac.signal });
    for await (const ev of events) {
      switch (ev.type) {
        case 'start': printer.start(ev.host); break;
        case 'data': if (ev.data.kind === 'object') printer.object(ev.host, ev.data.plain, ev.data.text); else printer.message(ev.host, ev.data.text); break;
        case 'done': printer.finish(ev.host, { kind: 'ps', hadErrors: ev.result }); break;
        case 'error': printer.finish(ev.host, errorOutcome(ev.error)); break;
      }
      if (process.stdout.writableNeedDrain) await new Promise<void>((r) => { process.stdout.once('drain', r); process.stdout.once('close', r); });
    }
  } finally { process.off('SIGINT', onSig); process.off('SIGTERM', onSig); }
  return printer.close();
}
