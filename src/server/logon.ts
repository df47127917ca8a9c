/**
 * Logon sessions of the endpoint (the Windows model): every authenticated request maps to a LogonSession.
 * Basic and CredSSP logons are interactive and hold the user's password (in memory only) — `hasCredentials`;
 * NTLM/Kerberos network logons hold none (the double hop then fails as ANONYMOUS LOGON).
 *
 * A session runs as a local account (`account`, from the users file: src/server/accounts.ts); its processes are
 * started by src/server/spawn.ts as that account, with that account's HOME/USER/LOGNAME/SHELL.
 * Seam for child processes: `childEnv(session)` gives the environment additions for a process started for the
 * session (USERNAME, USERDOMAIN, the logon type); hooks registered with
 * `registerChildEnvHook` may add more (e.g. a credential-broker socket path). NEVER put a password in the env/argv.
 * `session.onClose(fn)` registers cleanup (e.g. the broker socket) run when the session ends.
 */
import { randomUUID } from 'node:crypto';
import type { AcceptedIdentity } from '../auth/types.js';
import type { LocalAccount } from './accounts.js';

export interface LogonSessionOptions {
  /** the local account the session's processes run as (absent: the endpoint's own) */
  account?: LocalAccount;
  /** the endpoint's log (broker use is written there; never secrets) */
  log?: (line: string) => void;
}

export class LogonSession {
  readonly id = randomUUID();
  readonly createdAt = Date.now();
  private readonly closers: Array<() => void | Promise<void>> = [];
  private refs = 0;
  closed = false;
  readonly account?: LocalAccount;
  readonly log?: (line: string) => void;
  constructor(
    readonly identity: AcceptedIdentity,
    o: LogonSessionOptions = {},
  ) {
    this.account = o.account;
    this.log = o.log;
  }
  get hasCredentials(): boolean {
    return this.identity.password !== undefined;
  }
  /** "DOMAIN\\user" */
  get name(): string {
    return this.identity.domain ? `${this.identity.domain}\\${this.identity.user}` : this.identity.user;
  }
  onClose(fn: () => void | Promise<void>): void {
    this.closers.push(fn);
  }
  ref(): void {
    this.refs++;
  }
  unref(): void {
    if (--this.refs <= 0) void this.close();
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.closers.splice(0)) {
      try {
        await f();
      } catch {
        /* best effort */
      }
    }
  }
}

export type ChildEnvHook = (session: LogonSession) => Record<string, string> | undefined | Promise<Record<string, string> | undefined>;
const hooks: ChildEnvHook[] = [];
export function registerChildEnvHook(h: ChildEnvHook): void {
  hooks.push(h);
}

/** Environment additions for a child process started on behalf of `session`. */
export async function childEnv(session: LogonSession): Promise<Record<string, string>> {
  const env: Record<string, string> = {
    USERNAME: session.identity.user,
    USERDOMAIN: session.identity.domain,
    WINRM_TS_LOGON_TYPE: session.identity.logonType,
    WINRM_TS_LOGON_MECHANISM: session.identity.mechanism,
  };
  for (const h of hooks) Object.assign(env, (await h(session)) ?? {});
  for (const k of Object.keys(env)) if (/pass|secret/i.test(k)) delete env[k];
  return env;
}

/** Sessions keyed for reuse: Basic re-authenticates every request, but one user gets one session per connection. */
export class LogonSessions {
  private readonly byKey = new Map<string, LogonSession>();
  get(key: string, identity: AcceptedIdentity): LogonSession {
    const s = this.byKey.get(key);
    if (s && !s.closed) return s;
    const n = new LogonSession(identity);
    this.byKey.set(key, n);
    return n;
  }
  drop(key: string): void {
    this.byKey.delete(key);
  }
  async closeAll(): Promise<void> {
    for (const s of this.byKey.values()) await s.close();
    this.byKey.clear();
  }
}
