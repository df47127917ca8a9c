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
import type { Envelope } from '../wsman/envelope.js';
import { Action, WSManFaultCode } from '../wsman/ns.js';
import type { LogonSession } from './logon.js';
import type { EndpointLimits } from './limits.js';
import { WsmanFault } from './fault.js';

export interface EndpointInfo {
  /** `--name`: the machine name in faults (Machine=) */
  name: string;
  /** the URL clients use (…/wsman) */
  url: string;
  /** server MaxEnvelopeSize in bytes */
  maxEnvelopeSize: number;
  /** server cap on OperationTimeout (ms) */
  maxTimeoutMs: number;
  /** the endpoint's quotas and limits (Windows' names; src/server/limits.ts) */
  limits?: EndpointLimits;
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

/** The reply envelope: XML text, or its UTF-8 bytes (replies built as bytes, e.g. WinRS Receive). */
export type ResourceHandler = (req: WsmanRequest) => Promise<string | Uint8Array>;

export { WsmanFault };

const GLOBAL = new Map<string, ResourceHandler>();
export function registerResource(uriPrefix: string, handler: ResourceHandler): void {
  GLOBAL.set(uriPrefix, handler);
}

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
  unknownResource: (uri: string) =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'w:DestinationUnreachable',
      wsmanCode: WSManFaultCode.InvalidResourceUri,
      reason:
        `The WS-Management service cannot process the request. The resource URI (${uri.slice(0, 300)}) was not found in the ` +
        `WS-Management catalog. The catalog contains the metadata that describes resources, or logical endpoints. `,
    }),
  actionNotSupported: (action: string) =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'a:ActionNotSupported',
      wsmanCode: WSManFaultCode.ActionNotSupported,
      action: 'http://schemas.xmlsoap.org/ws/2004/08/addressing/fault',
      reason: `The WS-Management service does not support the action ${action.slice(0, 300)} for this resource. `,
    }),
  /** Windows: Reason is the generic selectors text; an unknown shell's Message comes wrapped by the shell provider
   *  (test_psrp_is_alive_invalid_selectors.yml), an unknown command's is WinRS' text (test_winrs_bad_cmd_id.yml). */
  invalidSelectors: (what = 'shell') =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'w:InvalidSelectors',
      wsmanCode: WSManFaultCode.InvalidSelectors,
      faultDetail: 'http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors',
      reason: 'The WS-Management service cannot process the request because the request contained invalid selectors for the resource. ',
      ...(what === 'command'
        ? {
            message:
              'The Windows Remote Shell received a request to perform an operation on a command identifier that does not exist. ' +
              'Either the command has completed execution or the client specified an invalid command identifier. ',
          }
        : { nestedProvider: { provider: 'Shell provider', path: '%systemroot%\\system32\\WsmSvc.dll' } }),
    }),
  timedOut: () =>
    new WsmanFault({
      code: 's:Receiver',
      subcode: 'w:TimedOut',
      wsmanCode: WSManFaultCode.TimedOut,
      reason: 'The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ',
    }),
  encodingLimit: (size: number, max: number) =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'w:EncodingLimit',
      wsmanCode: WSManFaultCode.EncodingLimit,
      faultDetail: 'http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/MaxEnvelopeSize',
      reason:
        `The WS-Management service cannot process the request because the envelope size (${size} bytes) exceeds the maximum ` +
        `envelope size (${max} bytes). `,
    }),
  /** Reason generic, Message names the header (test_psrp_is_alive_other_wsman_error.yml). */
  invalidHeader: (message: string) =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'a:InvalidMessageInformationHeader',
      wsmanCode: WSManFaultCode.InvalidMessageInformationHeader,
      reason: 'The WS-Management service cannot process the request. The request contains one or more invalid SOAP headers. ',
      message: message.slice(0, 400),
    }),
  /** OperationTimeout that is not a positive xs:duration, worded as Windows does */
  invalidTimeout: (raw: string) =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'a:InvalidMessageInformationHeader',
      wsmanCode: WSManFaultCode.InvalidMessageInformationHeader,
      reason: 'The WS-Management service cannot process the request. The request contains one or more invalid SOAP headers. ',
      message:
        `The WS-Management service cannot process the request. The XML contains an invalid timeout field in the SOAP header: ` +
        `${raw.slice(0, 100)}. `,
    }),
  /** not well-formed XML / not a SOAP envelope (MS-WSMV 3.1.4.1.31.3 wsman:SchemaValidationError,
   *  ERROR_WSMAN_SCHEMA_VALIDATION_ERROR 0x80338041) */
  schemaValidation: () =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'w:SchemaValidationError',
      wsmanCode: 2150858817,
      reason: 'The SOAP XML in the message does not match the corresponding XML schema definition. Change the XML and retry. ',
    }),
  /** a request's MaxEnvelopeSize below 8192 (DSP0226 6.2, MS-WSMV 3.1.4.1.7; ERROR_WSMAN_MAX_ENVELOPE_SIZE 0x80338047) */
  envelopeTooSmall: (size: number) =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'w:EncodingLimit',
      wsmanCode: 2150858823,
      faultDetail: 'http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/MinimumEnvelopeLimit',
      reason:
        `The WS-Management service cannot process the request because the MaxEnvelopeSize in the request (${size}) is less than ` +
        `the minimum of 8192 bytes. `,
    }),
  invalidBody: (what: string) =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'w:InvalidBody',
      wsmanCode: WSManFaultCode.InvalidSoapBody,
      reason:
        `The WS-Management service cannot process the request because the request packet does not have a valid SOAP body: ` +
        `${what.slice(0, 200)} `,
    }),
  accessDenied: () =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'w:AccessDenied',
      wsmanCode: WSManFaultCode.AccessDenied,
      reason: 'Access is denied. ',
    }),
  invalidParameter: () =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'w:InvalidParameter',
      wsmanCode: 87,
      reason: 'The parameter is incorrect. ',
      faultDetail: 'http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValue',
      providerFault:
        '<f:ProviderFault provider="Shell cmd plugin" path="%systemroot%\\system32\\winrscmd.dll">The parameter is incorrect. ' +
        '</f:ProviderFault>',
    }),
  provider: (wsmanCode: number, reason: string, subcode = 'w:InternalError') =>
    new WsmanFault({
      code: 's:Receiver',
      subcode,
      wsmanCode,
      reason,
      providerFault:
        `<f:ProviderFault provider="Shell cmd plugin" ` +
        `path="%systemroot%\\system32\\winrscmd.dll">${reason.replace(/[<&>]/g, ' ')}</f:ProviderFault>`,
    }),
};

export { Action };
