/**
 * WS-Man dispatch of the endpoint by ResourceURI. THE seam for server-side resources:
 *
 *   registerResource('http://schemas.microsoft.com/powershell/', async (req) => buildResponse(...))
 *
 * A handler gets the parsed envelope, the caller's LogonSession, the endpoint info and an AbortSignal (the client
 * went away), and returns the response envelope XML (use buildResponse from src/wsman/envelope.ts). To answer with a
 * fault, throw `new WsmanFault({...})` (rendered as Windows does: HTTP 500 + s:Fault + f:WSManFault). The longest
 * registered prefix wins. Handlers registered on a Server instance override the global table.
 */
import type { Envelope, FaultSpec } from '../wsman/envelope.js';
import { Action, WSManFaultCode } from '../wsman/ns.js';
import type { LogonSession } from './logon.js';

export interface EndpointInfo {
  /** `--name`: the machine name in faults (Machine=) */
  name: string;
  /** the URL clients use (…/wsman) */
  url: string;
  /** server MaxEnvelopeSize in bytes */
  maxEnvelopeSize: number;
  /** server cap on OperationTimeout (ms) */
  maxTimeoutMs: number;
}

export interface WsmanRequest {
  env: Envelope;
  session: LogonSession;
  endpoint: EndpointInfo;
  clientIp: string;
  /** aborted when the HTTP client disconnects or the server stops */
  signal: AbortSignal;
  /** the MaxEnvelopeSize of the reply (the request's header, capped by the server's) */
  replyMaxEnvelopeSize: number;
  /** OperationTimeout of the request (ms), defaulted and capped */
  operationTimeoutMs: number;
}

export type ResourceHandler = (req: WsmanRequest) => Promise<string>;

/** A WS-Man fault to send back. `machine` is filled in by the server. */
export class WsmanFault extends Error {
  constructor(readonly spec: Omit<FaultSpec, 'machine'> & { faultDetail?: string }) { super(spec.reason); }
}

const GLOBAL = new Map<string, ResourceHandler>();
export function registerResource(uriPrefix: string, handler: ResourceHandler): void { GLOBAL.set(uriPrefix, handler); }

export function findHandler(uri: string, local?: Map<string, ResourceHandler>): ResourceHandler | undefined {
  let best: { len: number; h: ResourceHandler } | undefined;
  for (const table of [GLOBAL, local]) {
    if (!table) continue;
    for (const [p, h] of table) {
      if ((uri === p || uri.startsWith(p)) && (!best || p.length >= best.len)) best = { len: p.length, h };
    }
  }
  return best?.h;
}

// ---- Windows-shaped faults ----
export const faults = {
  unknownResource: (uri: string) => new WsmanFault({
    code: 's:Sender', subcode: 'w:DestinationUnreachable', wsmanCode: WSManFaultCode.InvalidResourceUri,
    reason: `The WS-Management service cannot process the request. The resource URI (${uri.slice(0, 300)}) was not found in the WS-Management catalog. The catalog contains the metadata that describes resources, or logical endpoints. `,
  }),
  actionNotSupported: (action: string) => new WsmanFault({
    code: 's:Sender', subcode: 'a:ActionNotSupported', wsmanCode: WSManFaultCode.ActionNotSupported, action: 'http://schemas.xmlsoap.org/ws/2004/08/addressing/fault',
    reason: `The WS-Management service does not support the action ${action.slice(0, 300)} for this resource. `,
  }),
  invalidSelectors: (what = 'shell') => new WsmanFault({
    code: 's:Sender', subcode: 'w:InvalidSelectors', wsmanCode: WSManFaultCode.InvalidSelectors,
    faultDetail: 'http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors',
    reason: what === 'command'
      ? 'The Windows Remote Shell received a request to perform an operation on a command identifier that does not exist. Either the command has completed execution or the client specified an invalid command identifier. '
      : 'The WS-Management service cannot process the request because the request contained invalid selectors for the resource. ',
  }),
  timedOut: () => new WsmanFault({
    code: 's:Receiver', subcode: 'w:TimedOut', wsmanCode: WSManFaultCode.TimedOut,
    reason: 'The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ',
  }),
  encodingLimit: (size: number, max: number) => new WsmanFault({
    code: 's:Sender', subcode: 'w:EncodingLimit', wsmanCode: WSManFaultCode.EncodingLimit,
    faultDetail: 'http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/MaxEnvelopeSize',
    reason: `The WS-Management service cannot process the request because the envelope size (${size} bytes) exceeds the maximum envelope size (${max} bytes). `,
  }),
  invalidHeader: (what: string) => new WsmanFault({
    code: 's:Sender', subcode: 'a:InvalidMessageInformationHeader', wsmanCode: WSManFaultCode.InvalidMessageInformationHeader,
    reason: `The WS-Management service cannot process the request. The request contains one or more invalid SOAP headers: ${what.slice(0, 200)} `,
  }),
  invalidBody: (what: string) => new WsmanFault({
    code: 's:Sender', subcode: 'w:InvalidBody', wsmanCode: WSManFaultCode.InvalidSoapBody,
    reason: `The WS-Management service cannot process the request because the request packet does not have a valid SOAP body: ${what.slice(0, 200)} `,
  }),
  accessDenied: () => new WsmanFault({
    code: 's:Sender', subcode: 'w:AccessDenied', wsmanCode: WSManFaultCode.AccessDenied,
    reason: 'Access is denied. ',
  }),
  invalidParameter: () => new WsmanFault({
    code: 's:Sender', subcode: 'w:InvalidParameter', wsmanCode: 87, reason: 'The parameter is incorrect. ',
    faultDetail: 'http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValue',
    providerFault: '<f:ProviderFault provider="Shell cmd plugin" path="%systemroot%\\system32\\winrscmd.dll">The parameter is incorrect. </f:ProviderFault>',
  }),
  provider: (wsmanCode: number, reason: string, subcode = 'w:InternalError') => new WsmanFault({
    code: 's:Receiver', subcode, wsmanCode,
    reason,
    providerFault: `<f:ProviderFault provider="Shell cmd plugin" path="%systemroot%\\system32\\winrscmd.dll">${reason.replace(/[<&>]/g, ' ')}</f:ProviderFault>`,
  }),
};

export { Action };
