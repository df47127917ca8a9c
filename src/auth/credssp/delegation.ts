/**
 * The delegation guard: CredSSP hands the user's full password to the target, so (like Windows' policy
 * "Allow delegating fresh credentials with NTLM-only server authentication") credentials go only to targets that
 * match an allow-list of `wsman/HOST` SPN patterns. Checked before any token is produced.
 */
import { DelegationRefusedError, InvalidArgumentError } from '../../errors.js';

/** Env variable with a comma/space separated list of `wsman/HOST` patterns. */
export const DELEGATE_ENV = 'WINRM_TS_DELEGATE_TO';

/** Parse a pattern list as given on the command line or in the environment ("wsman/a, wsman/*.corp"). */
export function parseDelegateList(s: string | undefined): string[] {
  if (!s) return [];
  return s
    .split(/[\s,;]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

function normalizeHost(h: string): string {
  let host = h.trim().toLowerCase();
  if (host.startsWith('['))
    host = host.slice(1, host.indexOf(']') > 0 ? host.indexOf(']') : undefined); // [::1]:5986
  else if (/^[^:]+:\d+$/.test(host)) host = host.slice(0, host.lastIndexOf(':')); // host:5985
  return host.replace(/\.$/, '');
}

/** Validate one pattern: `wsman/HOST` where HOST is a name, `*.suffix`, `*`, or an address. */
export function validatePattern(p: string): { service: string; host: string } {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(p.trim());
  if (!m)
    throw new InvalidArgumentError(
      `delegate-to entry '${p}' is not of the form wsman/HOST (e.g. wsman/*.corp.example, wsman/10.0.0.5, wsman/*)`,
    );
  const service = m[1]!.toLowerCase();
  if (service !== 'wsman' && service !== '*')
    throw new InvalidArgumentError(`delegate-to entry '${p}': only the wsman/ service class is delegated to`);
  const host = normalizeHost(m[2]!);
  if (host.includes('*') && !(host === '*' || /^\*\.[^*]+$/.test(host))) {
    throw new InvalidArgumentError(`delegate-to entry '${p}': a wildcard is allowed only as 'wsman/*' or 'wsman/*.domain'`);
  }
  return { service, host };
}

/** Whether `targetHost` matches one pattern (Windows semantics: `*.corp.example` matches any name below corp.example). */
export function matchesPattern(pattern: string, targetHost: string): boolean {
  const { host } = validatePattern(pattern);
  const t = normalizeHost(targetHost);
  if (host === '*') return true;
  if (host.startsWith('*.')) return t.endsWith(host.slice(1)) && t.length > host.length - 1;
  return t === host;
}

/**
 * Throws DelegationRefusedError unless `targetHost` matches the allow-list. The message tells how to allow it
 * and never contains a secret.
 */
export function checkDelegation(targetHost: string, delegateTo: readonly string[] | undefined): void {
  const list = delegateTo ?? [];
  for (const p of list) validatePattern(p);
  const host = normalizeHost(targetHost);
  if (!host) throw new InvalidArgumentError('CredSSP needs the target host name to check the delegation allow-list');
  if (list.some((p) => matchesPattern(p, host))) return;
  const spn = `wsman/${host}`;
  throw new DelegationRefusedError(
    `CredSSP refused: delegating your credentials to ${spn} is not allowed ` +
      `(${list.length ? `allowed: ${list.join(', ')}` : 'the delegate list is empty'}). ` +
      `CredSSP hands the full password to the target host, so it is delegated only to hosts you list: ` +
      `add --delegate-to ${spn} (or a pattern like wsman/*.domain), set ${DELEGATE_ENV}=${spn}, or pass the delegateTo option. ` +
      `Nothing was sent to the host.`,
  );
}
