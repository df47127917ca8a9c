/**
 * `winrm-ts ps -H a,b,c | -H @hosts.txt [--throttle N] [--group] [--json] [--host-timeout S] -c SCRIPT | -f FILE | --cmd NAME`
 * Invoke-Command -ComputerName a,b,c: the same script on many hosts from one process (PSRP over WinRM, or over
 * SSH with --ssh). Output prints as `[host] line`, formatted by each host's PowerShell (`| Out-String -Stream
 * -Width N`, src/cli/format.ts), or with --json as one JSON line per object with PSComputerName;
 * error records go to stderr as `[host] message`; a host fails when its pipeline had errors or it could not be
 * reached. The password is read once (-p, WINRM_PASSWORD or one prompt) and used for every host; host calls
 * (Read-Host, prompts) are answered "not interactive". Uses only the public API.
 */
import {
  fanout,
  Session,
  toPlain,
  describeRemoteError,
  nonInteractiveHost,
  InvalidArgumentError,
  PSInvocationState,
  type ClixmlValue,
  type SessionOptions,
} from '../index.js';
import { FanoutPrinter } from './fanout-output.js';
import type { FanoutFlags } from './fanout-run.js';
import { passwordForList, printFanout, untilInterrupted } from './fanout-drive.js';
import { isHostList, parseHostList } from './hosts.js';
import { formatValue, isMissingCommand, outStringPipeline, outputWidth } from './format.js';
import { commandOf, scriptOf, type ModeFlags } from './format-args.js';
import { SSH_SESSION_SOURCE } from './commands/ps-ssh.js';
import { WINRM_SESSION_SOURCE } from './commands/ps-winrm.js';

type PsFanoutFlags = FanoutFlags &
  ModeFlags & {
    host?: string;
    user?: string;
    password?: string;
    ssh?: boolean;
    sshKey?: string;
    local?: boolean;
    json?: boolean;
    [k: string]: unknown;
  };

/** True when `ps` should take the many-hosts path. */
export function wantsPsFanout(f: PsFanoutFlags): boolean {
  return !f.local && (isHostList(f.host) || !!f.group || f.throttle !== undefined || f.hostTimeout !== undefined);
}

type PsItem = { kind: 'object'; plain: unknown; text: string | undefined } | { kind: 'message'; text: string };

/** `ps` over many hosts. Returns the exit code. */
export async function psFanout(args: string[], flags: PsFanoutFlags): Promise<number> {
  if (!flags.host) throw new InvalidArgumentError('many hosts: give -H a,b,c or -H @hosts.txt');
  const script = await scriptOf(args, flags);
  if (flags.inputJson || flags.inputLines)
    throw new InvalidArgumentError('local stdin is not sent to many hosts (--input-json / --input-lines go with one host)');
  const hosts = parseHostList(flags.host);
  const width = outputWidth();
  // credentials once, for every host
  const f = { ...flags };
  await passwordForList(f, hosts);
  const source = f.ssh ? SSH_SESSION_SOURCE : WINRM_SESSION_SOURCE;
  const printer = new FanoutPrinter(hosts, { json: !!f.json, group: !!f.group });
  return untilInterrupted(async (signal) => {
    const events = fanout<PsItem, boolean>(
      hosts,
      async (host, ctx) => {
        const opts = (await source.options({ ...f, host } as never)) as SessionOptions;
        // no eager RSA key exchange per host (CPU): SecureStrings still work, the keys are exchanged when first needed
        const session = await Session.open({ ...opts, host: nonInteractiveHost, exchangeKeys: false, signal: ctx.signal });
        let hadErrors = false;
        try {
          const cmd = await commandOf(session, script, args, f);
          let formatted = !f.json;
          for (let seen = 0; ; seen = 0) {
            let missing = false;
            for await (const ev of session.streamPipeline(formatted ? outStringPipeline(cmd, width) : { statements: [[cmd]] }, {
              signal: ctx.signal,
            })) {
              seen++;
              switch (ev.type) {
                case 'output':
                  await ctx.emit({
                    kind: 'object',
                    plain: toPlain(ev.value),
                    text: formatted && typeof ev.value === 'string' ? ev.value : formatValue(ev.value),
                  });
                  break;
                case 'error':
                  hadErrors = true;
                  await ctx.emit({ kind: 'message', text: describeRemoteError(ev.record as ClixmlValue) });
                  break;
                case 'state':
                  // an endpoint without Out-String (a restricted configuration): the objects are printed here instead
                  if (
                    ev.state === PSInvocationState.Failed &&
                    formatted &&
                    seen === 1 &&
                    isMissingCommand(ev.error as ClixmlValue, 'Out-String')
                  ) {
                    missing = true;
                    break;
                  }
                  if (ev.state === PSInvocationState.Failed) {
                    hadErrors = true;
                    if (ev.error !== undefined) await ctx.emit({ kind: 'message', text: describeRemoteError(ev.error as ClixmlValue) });
                  }
                  if (ev.state === PSInvocationState.Stopped) hadErrors = true;
                  break;
                default:
                  break;
              }
            }
            if (!missing) break;
            formatted = false;
          }
        } finally {
          await session.close().catch(() => undefined);
        }
        return hadErrors;
      },
      { throttle: f.throttle, timeoutMs: f.hostTimeout ? f.hostTimeout * 1000 : undefined, signal },
    );
    return printFanout(events, printer, {
      data: (host, d) => (d.kind === 'object' ? printer.object(host, d.plain, d.text) : printer.message(host, d.text)),
      done: (_host, hadErrors) => ({ kind: 'ps', hadErrors }),
    });
  });
}
