/** MS-WSMV / DSP0226 namespaces and actions (DSP0226 1.5; MS-WSMV 2.2). Match by URI, never by prefix. */
export const NS = {
  s: 'http://www.w3.org/2003/05/soap-envelope',
  wsa: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  wsman: 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
  wsmv: 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
  wsmanfault: 'http://schemas.microsoft.com/wbem/wsman/1/wsmanfault',
  rsp: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
  cfg: 'http://schemas.microsoft.com/wbem/wsman/1/config',
  wsen: 'http://schemas.xmlsoap.org/ws/2004/09/enumeration',
  wst: 'http://schemas.xmlsoap.org/ws/2004/09/transfer',
  wsmid: 'http://schemas.dmtf.org/wbem/wsman/identify/1/wsmanidentity.xsd',
  xml: 'http://www.w3.org/XML/1998/namespace',
  pwsh: 'http://schemas.microsoft.com/powershell',
} as const;

export const ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous';

/** WS-Man actions (DSP0226 / WS-Transfer / WS-Enumeration; MS-WSMV 3.1.4). */
export const Action = {
  Get: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Get',
  GetResponse: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse',
  Put: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Put',
  PutResponse: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/PutResponse',
  Create: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create',
  CreateResponse: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse',
  Delete: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete',
  DeleteResponse: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse',
  Enumerate: 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate',
  EnumerateResponse: 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/EnumerateResponse',
  Pull: 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull',
  PullResponse: 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/PullResponse',
  Command: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command',
  CommandResponse: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse',
  Receive: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive',
  ReceiveResponse: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse',
  Send: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send',
  SendResponse: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse',
  Signal: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal',
  SignalResponse: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse',
  Connect: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Connect',
  ConnectResponse: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ConnectResponse',
  Disconnect: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Disconnect',
  DisconnectResponse: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/DisconnectResponse',
  Reconnect: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Reconnect',
  ReconnectResponse: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReconnectResponse',
  Fault: 'http://schemas.dmtf.org/wbem/wsman/1/wsman/fault',
  AddressingFault: 'http://schemas.xmlsoap.org/ws/2004/08/addressing/fault',
} as const;

/** WSManFault codes (MS-WSMV 2.2.4.43; winerror.h ERROR_WSMAN_*), decimal. */
export const WSManFaultCode = {
  /** 0x80338029 w:TimedOut — a Receive long poll ended without output: retry */
  TimedOut: 2150858793,
  /** 0x8033805B w:InvalidSelectors — unknown ShellId/CommandId */
  InvalidSelectors: 2150858843,
  /** 0x8033800F a:InvalidMessageInformationHeader — a bad/missing header value (e.g. OperationTimeout PT-1S) */
  InvalidMessageInformationHeader: 2150858767,
  /** 0x80338013 a:ActionNotSupported */
  ActionNotSupported: 2150858771,
  /** 0x8033803B the resource URI was not found in the WS-Management catalog (as seen from Windows) */
  InvalidResourceUri: 2150858811,
  /** 0x80338035 w:EncodingLimit — the request exceeds MaxEnvelopeSize */
  EncodingLimit: 2150858805,
  /** 0x80338027 w:InvalidBody — not a valid SOAP body */
  InvalidSoapBody: 2150858791,
  /** 0x80338011 a:MessageInformationHeaderRequired */
  MessageInformationHeaderRequired: 2150858769,
  /** 0x80070005 E_ACCESSDENIED */
  AccessDenied: 2147942405,
  /** 0x80338000 generic */
  ResourceNotFound: 2150858752,
  /** 0x80070057 E_INVALIDARG (bad parameter) */
  InvalidArg: 2147942487,
} as const;
