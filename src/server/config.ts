/**
 * The endpoint's WS-Man configuration resource (Get on http://schemas.microsoft.com/wbem/wsman/1/config, shaped as
 * Windows answers: test_wsman_update_envelope_size_*.yml; its sub-resources config/service, config/service/auth,
 * config/client, config/winrs as `winrm get winrm/config/...` reads them) and the WS-Management Identify reply (DSP0226 11,
 * `WSMANIDENTIFY: unauthenticated`). Clients read MaxEnvelopeSizekb from here to size their messages.
 */
import { buildResponse } from '../wsman/envelope.js';
import { Action, NS } from '../wsman/ns.js';
import { faults, type ResourceHandler } from './dispatch.js';
import { DEFAULT_LIMITS, type EndpointLimits } from './limits.js';

export const CONFIG_URI = 'http://schemas.microsoft.com/wbem/wsman/1/config';

export interface ConfigView {
  maxEnvelopeSize: number;
  maxTimeoutMs: number;
  allowUnencrypted: boolean;
  auth: string[];
  cbt: string;
  limits?: EndpointLimits;
}

const b = (x: boolean) => (x ? 'true' : 'false');

/** A config element: text, or child elements in Windows' order. */
type Node = [name: string, value: string | Node[]];

/** The whole tree as `winrm get winrm/config` shows it (Windows' element names and order; the subset this endpoint has). */
function configTree(c: ConfigView): Node[] {
  const has = (n: string) => c.auth.includes(n);
  const l = c.limits ?? DEFAULT_LIMITS;
  const ports: Node = [
    'DefaultPorts',
    [
      ['HTTP', '5985'],
      ['HTTPS', '5986'],
    ],
  ];
  return [
    ['MaxEnvelopeSizekb', String(Math.floor(c.maxEnvelopeSize / 1024))],
    ['MaxTimeoutms', String(c.maxTimeoutMs)],
    ['MaxBatchItems', '32000'],
    // this machine's WinRM client side (the winrm-ts client processes on it use for the next hop)
    [
      'Client',
      [
        ['AllowUnencrypted', 'false'],
        [
          'Auth',
          [
            ['Basic', 'true'],
            ['Kerberos', 'true'],
            ['Negotiate', 'true'],
            ['Certificate', 'true'],
            ['CredSSP', 'false'],
          ],
        ],
        ports,
        ['TrustedHosts', ''],
      ],
    ],
    // the quotas `serve` enforces, with its flags' values
    [
      'Service',
      [
        ['MaxConcurrentOperationsPerUser', String(l.maxConcurrentOperationsPerUser)],
        ['MaxConnections', String(l.maxConnections)],
        ['AllowUnencrypted', b(c.allowUnencrypted)],
        [
          'Auth',
          [
            ['Basic', b(has('basic'))],
            ['Kerberos', b(has('kerberos') || has('negotiate'))],
            ['Negotiate', b(has('negotiate') || has('ntlm'))],
            ['Certificate', b(has('certificate'))],
            ['CredSSP', b(has('credssp'))],
            ['CbtHardeningLevel', `${c.cbt[0]!.toUpperCase()}${c.cbt.slice(1)}`],
          ],
        ],
        ports,
        ['AllowRemoteAccess', 'true'],
      ],
    ],
    [
      'Winrs',
      [
        ['AllowRemoteShellAccess', 'true'],
        ['IdleTimeout', String(l.idleTimeoutMs)],
        ['MaxProcessesPerShell', String(l.maxProcessesPerShell)],
        ['MaxMemoryPerShellMB', String(l.maxMemoryPerShellMB)],
        ['MaxShellsPerUser', String(l.maxShellsPerUser)],
      ],
    ],
  ];
}

const xml = (nodes: Node[]): string => nodes.map(([n, v]) => `<cfg:${n}>${typeof v === 'string' ? v : xml(v)}</cfg:${n}>`).join('');

/**
 * The Get body of the config resource or one of its sub-resources (`winrm get winrm/config/service/auth`):
 * `sub` is the path below config (e.g. ['service', 'auth']); the element's namespace is the resource URI, as Windows
 * answers. Undefined for a path the tree does not have.
 */
export function configBody(c: ConfigView, sub: string[] = []): string | undefined {
  let name = 'Config';
  let nodes = configTree(c);
  for (const part of sub) {
    const found = nodes.find(([n, v]) => n.toLowerCase() === part.toLowerCase() && typeof v !== 'string');
    if (!found) return undefined;
    name = found[0];
    nodes = found[1] as Node[];
  }
  const ns = [NS.cfg, ...sub.map((s) => s.toLowerCase())].join('/');
  return `<cfg:${name} xmlns:cfg="${ns}">${xml(nodes)}</cfg:${name}>`;
}

/** Get (only) on the config root and its sub-resources (config/service, config/service/auth, config/client, config/winrs,
 *  ...); other URIs and other actions fault as Windows does. */
export function configHandler(view: () => ConfigView): ResourceHandler {
  return async (req) => {
    const uri = req.env.resourceUri ?? '';
    const rest = uri === CONFIG_URI ? '' : uri.startsWith(`${CONFIG_URI}/`) ? uri.slice(CONFIG_URI.length + 1) : undefined;
    const body = rest === undefined ? undefined : configBody(view(), rest ? rest.split('/') : []);
    if (body === undefined) throw faults.unknownResource(uri);
    if (req.env.action !== Action.Get) throw faults.actionNotSupported(req.env.action ?? '');
    return buildResponse(Action.GetResponse, req.env.messageId, body);
  };
}

/** DSP0226 IdentifyResponse. */
export function identifyResponse(): string {
  return (
    `<s:Envelope xml:lang="en-US" xmlns:s="${NS.s}"><s:Header/><s:Body><wsmid:IdentifyResponse xmlns:wsmid="${NS.wsmid}">` +
    '<wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd</wsmid:ProtocolVersion><wsmid:ProductVendor>winrm-ts</wsmid:ProductVendor>' +
    '<wsmid:ProductVersion>OS: 0.0.0 SP: 0.0 Stack: 3.0</wsmid:ProductVersion></wsmid:IdentifyResponse></s:Body></s:Envelope>'
  );
}
