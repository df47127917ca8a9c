/**
 * The WinRM source for `ps`: `winrm-ts ps -H HOST[:PORT] [--https] -u USER [-p PASS] [--auth basic|negotiate|ntlm|credssp]
 * [--delegate-to wsman/HOST] [--configuration-name NAME] -c SCRIPT | -f FILE [-- ARGS...] [--json]` — PSRP over WS-Man
 * (Session transport 'wsman'). The connection flags mean what they mean for `run` (src/cli/options.ts); -H/-u/-p/--port
 * are shared with --ssh. Uses only the public API.
 */
import type { Command } from 'commander';
import type { SessionOptions } from '../../index.js';
import { addTargetOptions, addWinrmOnlyOptions, connectionFromOptions, type ConnectionFlags } from '../options.js';
import { hostFlags } from '../hosts.js';

/** Add the WinRM connection flags to `ps` (declared in src/cli/options.ts; -H is optional because of --local). */
export function addWinrmOptions(cmd: Command): Command {
  return addWinrmOnlyOptions(addTargetOptions(cmd, { hostRequired: false })).option(
    '--configuration-name <name>',
    'session configuration (default Microsoft.PowerShell; e.g. a JEA endpoint)',
  );
}

export const WINRM_SESSION_SOURCE = {
  name: 'winrm',
  matches: (f: Record<string, unknown>) => !!f.host && !f.ssh && !f.local,
  options: async (given: Record<string, unknown>): Promise<SessionOptions> => {
    const f = hostFlags(given, given.host as string); // a name of the config file (one host of a list; one -H is resolved already)
    const conn = await connectionFromOptions(f as unknown as ConnectionFlags);
    return { transport: 'wsman', connection: conn, configurationName: f.configurationName as string | undefined };
  },
};
