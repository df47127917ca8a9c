/**
 * The `ntlm` mechanism for src/auth/registry.ts: raw NTLMSSP tokens. The client sends them under the "Negotiate"
 * HTTP scheme by default (what Windows' WinRM accepts; pypsrp does the same) — pass `httpScheme: 'NTLM'` in the
 * initiator options for servers that only offer "NTLM". The acceptor answers the "NTLM" scheme.
 */
import type { AcceptorOptions, AuthMechanism, InitiatorOptions } from '../types.js';
import type { Credentials } from '../types.js';
import { NtlmInitiator, type NtlmInitiatorOptions } from './initiator.js';
import { NtlmAcceptor, type NtlmAcceptorOptions } from './acceptor.js';

export { NtlmInitiator } from './initiator.js';
export { NtlmAcceptor } from './acceptor.js';

/** Initiator options from the registry's plain-data options. */
export function ntlmInitiatorOptions(creds: Credentials, opts: InitiatorOptions): NtlmInitiatorOptions {
  const o: NtlmInitiatorOptions = { credentials: creds, spn: opts.spn ?? `HTTP/${opts.targetHost}` };
  if (opts.httpScheme === 'NTLM' || opts.httpScheme === 'Negotiate') o.httpScheme = opts.httpScheme;
  if (typeof opts.workstation === 'string') o.workstation = opts.workstation;
  return o;
}

/** Acceptor options: NetBIOS names from `--name` and the users file's domain; CBT mode and expected bindings. */
export function ntlmAcceptorOptions(opts: AcceptorOptions): NtlmAcceptorOptions {
  const host = (opts.serverName || 'winrm-ts').split('.')[0]!;
  const domain = opts.domainName ?? ((opts.userDb as { defaultDomain?: string }).defaultDomain || 'WORKGROUP');
  const o: NtlmAcceptorOptions = {
    userDb: opts.userDb,
    netbiosComputer: host.toUpperCase().slice(0, 15),
    netbiosDomain: domain.toUpperCase().slice(0, 15),
    dnsComputer: opts.serverName || 'winrm-ts',
    cbt: opts.cbt ?? 'relaxed',
  };
  if (opts.channelBindings) o.channelBindings = opts.channelBindings;
  return o;
}

export const ntlmMechanism: AuthMechanism = {
  protocol: 'ntlm',
  httpScheme: 'NTLM',
  initiator: (creds, opts) => new NtlmInitiator(ntlmInitiatorOptions(creds, opts)),
  acceptor: (opts) => new NtlmAcceptor(ntlmAcceptorOptions(opts)),
};
