/**
 * `winrm-ts session disconnect|connect|list|remove -H HOST ...` (WinRM): a long job that survives the terminal, as
 * Invoke-Command -InDisconnectedSession / Get-PSSession / Connect-PSSession + Receive-PSSession / Remove-PSSession do.
 *   session disconnect -H HOST -c SCRIPT   start SCRIPT in a new session, disconnect, print the session id
 *   session list -H HOST                  the user's sessions on the host, their state and commands
 *   session connect -H HOST ID            reattach, print the rest of the output as it comes, remove the session
 *                                         (exit 1 when the job had errors)
 *   session remove -H HOST ID             end a session (its commands stop)
 * Output is formatted on the host (Out-String -Stream at the terminal's width at start), so what arrives later is
 * the text PowerShell would have printed. Uses only the public API.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  InvalidArgumentError,
  PSInvocationState,
  PSObject,
  Session,
  type ClixmlValue,
  type InvokeEvent,
  type SessionOptions,
} from '../../index.js';
import { addConnectionOptions } from '../options.js';
import { WINRM_SESSION_SOURCE } from './ps-winrm.js';

interface SessionFlags {
  command?: string;
  file?: string;
  idleTimeout?: number;
  keep?: boolean;
  json?: boolean;
  configurationName?: string;
  [flag: string]: unknown;
}

/** The first output of a started job: the pipeline exists on the host, so it can be disconnected. */
const STARTED = 'winrm-ts:session-started';
/** The last output of a job: how many errors it had (its $Error.Count), for the exit code of `connect`. */
const ERRORS = 'winrm-ts:session-errors=';
const text = (v: ClixmlValue): string =>
  typeof v === 'string' ? v : v === null ? '' : v instanceof PSObject ? (v.toStringValue ?? String(v.value ?? '')) : String(v);

function winrm(cmd: Command): Command {
  return addConnectionOptions(cmd).option('--configuration-name <name>', 'session configuration (default Microsoft.PowerShell)');
}

export function register(program: Command): void {
  const session = program
    .command('session')
    .description('disconnected sessions (WinRM): start a job, leave, list, reconnect and receive its output')
    .addHelpText(
      'after',
      `
Examples:
  winrm-ts session disconnect -H win1 -u 'EXAMPLE\\alice' -c 'Start-Sleep 600; Get-Date'   # prints the session id
  winrm-ts session list -H win1 -u 'EXAMPLE\\alice'
  winrm-ts session connect -H win1 -u 'EXAMPLE\\alice' <id>`,
    );
  winrm(
    session
      .command('disconnect')
      .alias('start')
      .description(
        'start a script in a new session and disconnect from it at once (Invoke-Command -InDisconnectedSession); prints the session id',
      )
      .option('-c, --command <script>', 'the script to run')
      .option('-f, --file <file.ps1>', 'a local script file to run')
      .option('--idle-timeout <s>', "how long the host keeps the disconnected session, seconds (default: the host's)", (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`--idle-timeout must be a positive integer, got ${v}`);
        return n;
      }),
  ).action(async (f: SessionFlags) => {
    process.exitCode = await startDisconnected(f);
  });
  winrm(
    session
      .command('list')
      .description('the sessions of the user on the host (Get-PSSession -ComputerName)')
      .option('--json', 'one JSON object per session'),
  ).action(async (f: SessionFlags) => {
    process.exitCode = await listSessions(f);
  });
  winrm(
    session
      .command('connect')
      .argument('<id>', 'the session id (from `session disconnect` or `session list`)')
      .description(
        'reattach to a disconnected session, print the rest of its output as it comes, then remove it (Connect-PSSession + ' +
          'Receive-PSSession)',
      )
      .option('--keep', 'leave the session on the host when its commands are done (remove it later with `session remove`)'),
  ).action(async (id: string, f: SessionFlags) => {
    process.exitCode = await connectSession(id, f);
  });
  winrm(
    session
      .command('remove')
      .argument('<id>', 'the session id')
      .description('end a disconnected session on the host; its commands stop (Remove-PSSession)'),
  ).action(async (id: string, f: SessionFlags) => {
    process.exitCode = await removeSession(id, f);
  });
}

const options = (f: SessionFlags): Promise<SessionOptions> => WINRM_SESSION_SOURCE.options(f);

/** Print one event of a job (strings from Out-String -Stream; anything else as its text); true: the job had errors. */
function emit(ev: InvokeEvent): boolean {
  if (ev.type === 'output') {
    if (ev.value === STARTED) return false;
    if (typeof ev.value === 'string' && ev.value.startsWith(ERRORS)) return Number(ev.value.slice(ERRORS.length)) > 0;
    process.stdout.write(text(ev.value) + '\n');
    return false;
  }
  if (ev.type === 'error') {
    process.stderr.write(text(ev.record) + '\n');
    return true;
  }
  if (ev.type === 'state' && ev.state === PSInvocationState.Failed) {
    if (ev.error !== undefined) process.stderr.write(text(ev.error) + '\n');
    return true;
  }
  return ev.type === 'state' && ev.state === PSInvocationState.Stopped;
}

export async function startDisconnected(f: SessionFlags): Promise<number> {
  if (!!f.command === !!f.file) throw new InvalidArgumentError('give exactly one of -c SCRIPT or -f FILE');
  const script = f.command ?? (await readFile(f.file!, 'utf8'));
  const width = Math.max(40, process.stdout.columns || 120);
  const s = await Session.open(await options(f));
  let disconnecting: Promise<{ shellId: string; pipelineIds: string[] }> | undefined;
  let bad = false;
  try {
    const events = s.streamPipeline({
      statements: [
        [{ cmd: `'${STARTED}'`, isScript: true }],
        [
          { cmd: script, isScript: true, mergeToOutput: { error: true } },
          {
            cmd: 'Out-String',
            args: [
              { name: 'Stream', value: true },
              { name: 'Width', value: width },
            ],
          },
        ],
        [{ cmd: `'${ERRORS}' + $Error.Count`, isScript: true }],
      ],
    });
    try {
      for await (const ev of events) {
        // what arrived before the Disconnect took effect is printed here; the host keeps the rest for `connect`
        if (ev.type === 'output' && ev.value === STARTED && !disconnecting) disconnecting = s.disconnect({ idleTimeout: f.idleTimeout });
        if (emit(ev)) bad = true;
      }
    } catch (e) {
      if (!disconnecting) throw e;
    }
    if (!disconnecting) {
      process.stderr.write('winrm-ts: the script ended before it could be disconnected (nothing left on the host)\n');
      return bad ? 1 : 0;
    }
    const { shellId } = await disconnecting;
    process.stderr.write(`winrm-ts: disconnected; reattach with: winrm-ts session connect -H ${String(f.host)} ${shellId}\n`);
    process.stdout.write(`${shellId}\n`);
    return 0;
  } finally {
    if (!disconnecting) await s.close().catch(() => undefined);
  }
}

export async function listSessions(f: SessionFlags): Promise<number> {
  const shells = await Session.list(await options(f));
  if (f.json) {
    for (const sh of shells) process.stdout.write(JSON.stringify(sh) + '\n');
    return 0;
  }
  if (!shells.length) {
    process.stderr.write('winrm-ts: no sessions of this user on the host\n');
    return 0;
  }
  const rows = shells.map((sh) => [
    sh.shellId,
    sh.state ?? '',
    sh.commands.map((c) => `${c.commandId} ${c.state ?? ''}`.trim()).join(', ') || '-',
  ]);
  const head = ['Id', 'State', 'Commands'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(w[i]!) : c)).join('  ');
  process.stdout.write([line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n') + '\n');
  return 0;
}

async function reattach(id: string, f: SessionFlags, signal: AbortSignal): Promise<{ s: Session; pipelines: string[] }> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))
    throw new InvalidArgumentError(`${id} is not a session id (a GUID, as \`session list\` shows)`);
  const opts = await options(f);
  const listed = (await Session.list({ ...opts, signal })).find((sh) => sh.shellId.toLowerCase() === id.toLowerCase());
  if (!listed)
    throw new InvalidArgumentError(`no session ${id} of this user on the host (\`winrm-ts session list -H ${String(f.host)}\` shows them)`);
  const s = await Session.connect({ ...opts, shellId: listed.shellId, signal });
  return { s, pipelines: listed.commands.map((c) => c.commandId) };
}

export async function connectSession(id: string, f: SessionFlags): Promise<number> {
  const { s, pipelines } = await reattach(id, f, new AbortController().signal);
  // Ctrl+C leaves the job running: disconnect again (the host keeps it for a later `connect`)
  let leaving: Promise<unknown> | undefined;
  const onSig = () => {
    leaving ??= s.disconnect().catch(() => undefined);
  };
  process.on('SIGINT', onSig);
  let bad = false;
  try {
    for (const p of pipelines) {
      for await (const ev of s.receive(p)) if (emit(ev)) bad = true;
    }
  } catch (e) {
    if (!leaving) throw e;
  } finally {
    process.off('SIGINT', onSig);
    if (!leaving && f.keep) leaving = s.disconnect();
    if (leaving) {
      await leaving;
      process.stderr.write(`winrm-ts: the session ${id} stays on the host (session connect / session remove)\n`);
    } else await s.close().catch(() => undefined);
  }
  if (leaving && !f.keep) return 130;
  return bad ? 1 : 0;
}

export async function removeSession(id: string, f: SessionFlags): Promise<number> {
  const { s } = await reattach(id, f, new AbortController().signal);
  await s.close();
  process.stderr.write(`winrm-ts: removed the session ${id}\n`);
  return 0;
}
