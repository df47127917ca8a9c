/**
 * This client's policy as doctor reports it: the CredSSP delegate list and the trusted-hosts patterns. The one hook
 * for the configuration file (profiles, `trustedHosts`): when that exists, it fills `trustedHosts` here and every
 * doctor check follows.
 */
import { DELEGATE_ENV, matchesPattern } from '../../auth/credssp/delegation.js';
import type { ConnectOptions } from '../../client/client.js';

export interface ClientPolicy {
  /** `wsman/HOST` patterns CredSSP may delegate the password to (--delegate-to and $WINRM_TS_DELEGATE_TO) */
  delegateTo: string[];
  /** host patterns NTLM / Basic may go to without a proven server identity; undefined = no such policy configured */
  trustedHosts?: string[];
  /** where the trusted hosts came from (a config file path) */
  trustedHostsSource?: string;
}

/** The client policy for these connection options. */
export function clientPolicy(o: ConnectOptions & { trustedHosts?: string[]; trustedHostsSource?: string }): ClientPolicy {
  return {
    delegateTo: o.delegateTo ?? [],
    ...(o.trustedHosts ? { trustedHosts: o.trustedHosts, trustedHostsSource: o.trustedHostsSource } : {}),
  };
}

/** Whether a host matches a trusted-hosts pattern list (`*`, `*.corp.example`, names, addresses), as Windows compares. */
export function isTrustedHost(patterns: readonly string[], host: string): boolean {
  return patterns.some((p) => matchesPattern(`wsman/${p.trim()}`, host));
}

export { DELEGATE_ENV };
