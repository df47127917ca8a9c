/**
 * WS-Management SOAP envelopes (DSP0226 / MS-WSMV 2.2.4): build requests with the WS-Addressing / WS-Man header set
 * (DSP0226 5; MS-WSMV 3.1.4.1), parse any envelope namespace-correctly (Windows answers with other prefixes than we
 * send), faults both ways.
 * Sans-IO: strings in, strings/objects out. Used by the client (src/wsman/client.ts) and the endpoint (src/server/).
 */
import { randomUUID } from 'node:crypto';
import { parseXml, child, childrenNamed, find, attr, escapeXml, type XmlElement } from '../xml/dom.js';
import { RemoteProtocolError, WSManFaultError } from '../errors.js';
import { NS, ANONYMOUS, Action, WSManFaultCode } from './ns.js';

export function newUuid(): string {
  return `uuid:${randomUUID().toUpperCase()}`;
}

/** xs:duration "PT20S" / "PT7200.000S" / "P0DT0H0M5S" -> milliseconds; undefined when not parseable. */
export function parseDuration(d: string | undefined): number | undefined {
  if (!d) return undefined;
  const m = /^\s*P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?\s*$/.exec(d);
  if (!m || d.trim() === 'P' || d.trim() === 'PT') return undefined;
  const [, D, H, M, S] = m;
  return ((Number(D ?? 0) * 24 + Number(H ?? 0)) * 60 + Number(M ?? 0)) * 60000 + Math.round(Number(S ?? 0) * 1000);
}
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  return `PT${Number.isInteger(s) ? s : s.toFixed(3)}S`;
}

export interface WsmanOption {
  name: string;
  value: string;
  mustComply?: boolean;
}
export interface RequestHeader {
  action: string;
  resourceUri: string;
  /** the endpoint URL, e.g. http://host:5985/wsman */
  to: string;
  messageId?: string;
  sessionId?: string;
  maxEnvelopeSize?: number;
  /** seconds */
  operationTimeout?: number;
  locale?: string;
  selectors?: Record<string, string>;
  options?: WsmanOption[];
}

/** DSP0226 request envelope with the WS-Addressing / WS-Man header set (DSP0226 5). `bodyXml` uses prefixes rsp/wsman/wsa/s freely. */
export function buildRequest(h: RequestHeader, bodyXml: string, extraNs = ''): { xml: string; messageId: string } {
  const messageId = h.messageId ?? newUuid();
  const locale = h.locale ?? 'en-US';
  let hdr =
    `<wsa:Action s:mustUnderstand="true">${escapeXml(h.action)}</wsa:Action>` +
    `<wsmv:DataLocale s:mustUnderstand="false" xml:lang="${escapeXml(locale)}"/>` +
    `<wsman:Locale s:mustUnderstand="false" xml:lang="${escapeXml(locale)}"/>` +
    `<wsman:MaxEnvelopeSize s:mustUnderstand="true">${h.maxEnvelopeSize ?? 153600}</wsman:MaxEnvelopeSize>` +
    `<wsa:MessageID>${messageId}</wsa:MessageID>` +
    `<wsman:OperationTimeout>${formatDuration((h.operationTimeout ?? 20) * 1000)}</wsman:OperationTimeout>` +
    `<wsa:ReplyTo><wsa:Address s:mustUnderstand="true">${ANONYMOUS}</wsa:Address></wsa:ReplyTo>` +
    `<wsman:ResourceURI s:mustUnderstand="true">${escapeXml(h.resourceUri)}</wsman:ResourceURI>` +
    (h.sessionId ? `<wsmv:SessionId s:mustUnderstand="false">${escapeXml(h.sessionId)}</wsmv:SessionId>` : '') +
    `<wsa:To>${escapeXml(h.to)}</wsa:To>`;
  if (h.options?.length) {
    hdr +=
      '<wsman:OptionSet s:mustUnderstand="true">' +
      h.options
        .map(
          (o) =>
            `<wsman:Option Name="${escapeXml(o.name)}"${o.mustComply ? ' MustComply="true"' : ''}>${escapeXml(o.value)}</wsman:Option>`,
        )
        .join('') +
      '</wsman:OptionSet>';
  }
  if (h.selectors && Object.keys(h.selectors).length) {
    hdr +=
      '<wsman:SelectorSet>' +
      Object.entries(h.selectors)
        .map(([k, v]) => `<wsman:Selector Name="${escapeXml(k)}">${escapeXml(v)}</wsman:Selector>`)
        .join('') +
      '</wsman:SelectorSet>';
  }
  const xml =
    `<s:Envelope xmlns:rsp="${NS.rsp}" xmlns:s="${NS.s}" xmlns:wsa="${NS.wsa}" xmlns:wsman="${NS.wsman}" ` +
    `xmlns:wsmv="${NS.wsmv}"${extraNs}>` +
    `<s:Header>${hdr}</s:Header><s:Body>${bodyXml}</s:Body></s:Envelope>`;
  return { xml, messageId };
}

/** A parsed envelope (request or response). Lookups are by namespace URI + local name. */
export interface Envelope {
  root: XmlElement;
  header: XmlElement | undefined;
  body: XmlElement | undefined;
  action: string | undefined;
  messageId: string | undefined;
  relatesTo: string | undefined;
  resourceUri: string | undefined;
  to: string | undefined;
  sessionId: string | undefined;
  selectors: Map<string, string>;
  options: Map<string, string>;
  /** ms, when present */
  operationTimeoutMs: number | undefined;
  operationTimeoutRaw: string | undefined;
  maxEnvelopeSize: number | undefined;
  /** the first element inside s:Body */
  payload: XmlElement | undefined;
  /** base64 contents decoded from the reply's bytes (InvokeOptions.cutBase64); the cut elements' text is the index */
  payloads?: Buffer[];
}

const text = (el: XmlElement | undefined): string | undefined => (el ? el.text.trim() : undefined);

export function parseEnvelope(xml: string, opts: { maxLength?: number } = {}): Envelope {
  const root = parseXml(xml, { maxLength: opts.maxLength });
  if (root.ns !== NS.s || root.local !== 'Envelope')
    throw new RemoteProtocolError(
      `expected a SOAP 1.2 Envelope, got <${root.prefix ? root.prefix + ':' : ''}${root.local}> (namespace ${root.ns || 'none'})`,
    );
  const header = child(root, NS.s, 'Header');
  const body = child(root, NS.s, 'Body');
  const selectors = new Map<string, string>();
  const selSet = child(header, NS.wsman, 'SelectorSet');
  for (const s of childrenNamed(selSet, NS.wsman, 'Selector')) {
    const n = attr(s, 'Name');
    if (n) selectors.set(n, s.text.trim());
  }
  const options = new Map<string, string>();
  const optSet = child(header, NS.wsman, 'OptionSet');
  for (const o of childrenNamed(optSet, NS.wsman, 'Option')) {
    const n = attr(o, 'Name');
    if (n) options.set(n, o.text.trim());
  }
  const otRaw = text(child(header, NS.wsman, 'OperationTimeout'));
  const mes = text(child(header, NS.wsman, 'MaxEnvelopeSize'));
  return {
    root,
    header,
    body,
    action: text(child(header, NS.wsa, 'Action')),
    messageId: text(child(header, NS.wsa, 'MessageID')),
    relatesTo: text(child(header, NS.wsa, 'RelatesTo')),
    resourceUri: text(child(header, NS.wsman, 'ResourceURI')),
    to: text(child(header, NS.wsa, 'To')),
    sessionId: text(child(header, NS.wsmv, 'SessionId')),
    selectors,
    options,
    operationTimeoutMs: parseDuration(otRaw),
    operationTimeoutRaw: otRaw,
    maxEnvelopeSize: mes && /^\d{1,10}$/.test(mes) ? Number(mes) : undefined,
    payload: body?.children[0],
  };
}

/** SOAP 1.2 Fault -> WSManFaultError (code priority: WSManFault/@Code > Subcode > Code), or undefined. */
export function faultFromEnvelope(env: Envelope): WSManFaultError | undefined {
  const fault = child(env.body, NS.s, 'Fault');
  if (!fault) return undefined;
  const code = child(fault, NS.s, 'Code');
  const codeValue = text(child(code, NS.s, 'Value'));
  const subValue = text(child(child(code, NS.s, 'Subcode'), NS.s, 'Value'));
  const reason = text(child(child(fault, NS.s, 'Reason'), NS.s, 'Text'));
  const wf = find(child(fault, NS.s, 'Detail'), NS.wsmanfault, 'WSManFault');
  const wfCode = attr(wf, 'Code');
  const machine = attr(wf, 'Machine');
  const msgEl = child(wf, NS.wsmanfault, 'Message');
  let message = msgEl ? collectText(msgEl).trim() : undefined;
  if (!message) {
    // WMI variant: <p:MSFT_WmiError><p:Message>
    const detail = child(fault, NS.s, 'Detail');
    const wmi = detail?.children[0];
    const m = wmi?.children.find((c) => c.local === 'Message');
    message = m?.text.trim();
  }
  const num = wfCode && /^\d+$/.test(wfCode) ? Number(wfCode) : undefined;
  const msg = message || reason || subValue || codeValue || 'unknown WS-Management fault';
  return new WSManFaultError(
    'WS-Management fault' +
      (num !== undefined ? ` ${num} (0x${num.toString(16)})` : subValue ? ` ${subValue}` : '') +
      `${machine ? ` from ${machine}` : ''}: ${msg.replace(/\s+/g, ' ').trim()}`,
    num,
    machine,
    msg,
    codeValue,
    subValue,
  );
}

function collectText(el: XmlElement): string {
  return el.text + el.children.map(collectText).join('');
}

export function isTimedOutFault(e: unknown): boolean {
  return (
    e instanceof WSManFaultError &&
    (e.wsmanFaultCode === WSManFaultCode.TimedOut || (e.wsmanFaultCode === undefined && /(^|:)TimedOut$/.test(e.faultSubcode ?? '')))
  );
}

// ---- server side: responses in Windows' prefixes (s, a, x, w, rsp, p) ----

const RESP_NS =
  `xml:lang="en-US" xmlns:s="${NS.s}" xmlns:a="${NS.wsa}" xmlns:x="${NS.wst}" xmlns:w="${NS.wsman}" xmlns:rsp="${NS.rsp}" ` +
  `xmlns:p="${NS.wsmv}"`;

/** A response envelope as Windows writes it (prefixes a/x/w/rsp/p; body uses them). */
export function buildResponse(action: string, relatesTo: string | undefined, bodyXml: string, headerExtra = ''): string {
  const { head, tail } = responseEnvelopeParts(action, relatesTo, headerExtra);
  return head + bodyXml + tail;
}

/** buildResponse's envelope around the body: the text before and after the body's content (for replies built as bytes). */
export function responseEnvelopeParts(action: string, relatesTo: string | undefined, headerExtra = ''): { head: string; tail: string } {
  return {
    head:
      `<s:Envelope ${RESP_NS}><s:Header><a:Action>${escapeXml(action)}</a:Action><a:MessageID>${newUuid()}</a:MessageID>` +
      `<a:To>${ANONYMOUS}</a:To>${relatesTo ? `<a:RelatesTo>${escapeXml(relatesTo)}</a:RelatesTo>` : ''}${headerExtra}</s:Header><s:Body>`,
    tail: '</s:Body></s:Envelope>',
  };
}

export interface FaultSpec {
  /** 's:Sender' | 's:Receiver' */
  code: 's:Sender' | 's:Receiver';
  /** e.g. 'w:TimedOut', 'w:InvalidSelectors', 'a:ActionNotSupported' (prefixes of buildResponse) */
  subcode: string;
  reason: string;
  wsmanCode: number;
  machine: string;
  /** Fault action (default the WS-Man fault action) */
  action?: string;
  /** f:ProviderFault XML: replaces the text inside f:Message (as Windows does for plug-in errors) */
  providerFault?: string;
  /** w:FaultDetail URI, e.g. …/faultDetail/UnexpectedSelectors */
  faultDetail?: string;
  /** f:Message text when it differs from the s:Reason text (Windows: Reason generic, Message specific) */
  message?: string;
  /** the message wrapped as Windows' shell provider does: f:ProviderFault(provider, path) > f:WSManFault > f:Message */
  nestedProvider?: { provider: string; path: string };
}

/** A SOAP fault envelope shaped like Windows' (DSP0226 14; MS-WSMV 2.2.4.43 WSManFault). */
export function buildFault(f: FaultSpec, relatesTo: string | undefined): string {
  const wsmanFault = (inner: string) =>
    `<f:WSManFault xmlns:f="${NS.wsmanfault}" Code="${f.wsmanCode}" ` +
    `Machine="${escapeXml(f.machine)}"><f:Message>${inner}</f:Message></f:WSManFault>`;
  let message = f.providerFault ?? escapeXml(f.message ?? f.reason);
  if (f.nestedProvider && !f.providerFault) {
    message =
      `<f:ProviderFault provider="${escapeXml(f.nestedProvider.provider)}" ` +
      `path="${escapeXml(f.nestedProvider.path)}">${wsmanFault(message)}</f:ProviderFault>`;
  }
  const body =
    `<s:Fault><s:Code><s:Value>${f.code}</s:Value><s:Subcode><s:Value>${escapeXml(f.subcode)}</s:Value></s:Subcode></s:Code>` +
    `<s:Reason><s:Text xml:lang="en-US">${escapeXml(f.reason)}</s:Text></s:Reason>` +
    `<s:Detail>${f.faultDetail ? `<w:FaultDetail>${escapeXml(f.faultDetail)}</w:FaultDetail>` : ''}${wsmanFault(message)}</s:Detail>` +
    `</s:Fault>`;
  return buildResponse(f.action ?? Action.Fault, relatesTo, body);
}
