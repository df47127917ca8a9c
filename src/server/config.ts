/**
 * The endpoint's WS-Man configuration resource (Get on http://schemas.microsoft.com/wbem/wsman/1/config, shaped as
 * Windows answers: test_wsman_update_envelope_size_*.yml) and the WS-Management Identify reply (DSP0226 11,
 * `WSMANIDENTIFY: unauthenticated`). Clients read MaxEnvelopeSizekb from here to size their messages.
 */
import { buildResponse } from '../wsman/envelope.js';
import { Action, NS } from '../wsman/ns.js';
import { faults, type ResourceHandler } from './dispatch.js';
import { DEFAULT_LIMITS, type EndpointLimits } from './limits.js';

export const CONFIG_URI = 'http://schemas.microsoft.com/wbem/wsman/1/config';

export interface ConfigView { maxEnvelopeSize: number; maxTimeoutMs: number; allowUnencrypted: boolean; auth: string[]; cbt: string; limits?: EndpointLimits }

const b = (x: boolean) => (x ? 'true' : 'false');

export function configBody(c: ConfigView): string {
  const has = (n: string) => c.auth.includes(n);
  const authXml = `<cfg:Auth><cfg:Basic>${b(has('basic'))}</cfg:Basic><cfg:Kerberos>${b(has('kerberos') || has('negotiate'))}</cfg:Kerberos>` +
    `<cfg:Negotiate>${b(has('negotiate') || has('ntlm'))}</cfg:Negotiate><cfg:Certificate>${b(has('certificate'))}</cfg:Certificate><cfg:CredSSP>${b(has('credssp'))}</cfg:CredSSP>` +
    `<cfg:CbtHardeningLevel>${c.cbt[0]!.toUpperCase()}${c.cbt.slice(1)}</cfg:CbtHardeningLevel></cfg:Auth>`;
  const l = c.limits ?? DEFAULT_LIMITS;
  // Windows' element names and order (winrm get winrm/config): the quotas `serve` enforces, with its flags' values
  return `<cfg:Config xmlns:cfg="${NS.cfg}"><cfg:MaxEnvelopeSizekb>${Math.floor(c.maxEnvelopeSize / 1024)}</cfg:MaxEnvelopeSizekb>` +
    `<cfg:MaxTimeoutms>${c.maxTimeoutMs}</cfg:MaxTimeoutms><cfg:MaxBatchItems>32000</cfg:MaxBatchItems>` +
    `<cfg:Service><cfg:MaxConcurrentOperationsPerUser>${l.maxConcurrentOperationsPerUser}</cfg:MaxConcurrentOperationsPerUser>` +
    `<cfg:MaxConnections>${l.maxConnections}</cfg:MaxConnections><cfg:AllowUnencrypted>${b(c.allowUnencrypted)}</cfg:AllowUnencrypted>${authXml}` +
    '<cfg:DefaultPorts><cfg:HTTP>5985</cfg:HTTP><cfg:HTTPS>5986</cfg:HTTPS></cfg:DefaultPorts><cfg:AllowRemoteAccess>true</cfg:AllowRemoteAccess></cfg:Service>' +
    `<cfg:Winrs><cfg:AllowRemoteShellAccess>true</cfg:AllowRemoteShellAccess><cfg:IdleTimeout>${l.idleTimeoutMs}</cfg:IdleTimeout>` +
    `<cfg:MaxProcessesPerShell>${l.maxProcessesPerShell}</cfg:MaxProcessesPerShell><cfg:MaxMemoryPerShellMB>${l.maxMemoryPerShellMB}</cfg:MaxMemoryPerShellMB>` +
    `<cfg:MaxShellsPerUser>${l.maxShellsPerUser}</cfg:MaxShellsPerUser></cfg:Winrs></cfg:Config>`;
}

/** Get (only) on the config root; sub-resources and other actions fault as unknown. */
export function configHandler(view: () => ConfigView): ResourceHandler {
  return async (req) => {
    if (req.env.resourceUri !== CONFIG_URI) throw faults.unknownResource(req.env.resourceUri ?? '');
    if (req.env.action !== Action.Get) throw faults.actionNotSupported(req.env.action ?? '');
    return buildResponse(Action.GetResponse, req.env.messageId, configBody(view()));
  };
}

/** DSP0226 IdentifyResponse. */
export function identifyResponse(): string {
  return `<s:Envelope xml:lang="en-US" xmlns:s="${NS.s}"><s:Header/><s:Body><wsmid:IdentifyResponse xmlns:wsmid="${NS.wsmid}">` +
    '<wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd</wsmid:ProtocolVersion><wsmid:ProductVendor>winrm-ts</wsmid:ProductVendor>' +
    '<wsmid:ProductVersion>OS: 0.0.0 SP: 0.0 Stack: 3.0</wsmid:ProductVersion></wsmid:IdentifyResponse></s:Body></s:Envelope>';
}
