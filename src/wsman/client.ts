/**
 * WS-Man verbs over an EnvelopeExchange (src/http/transport.ts): Create, Delete, Get, Put, Enumerate, and the
 * shell actions (Command, Send, Receive, Signal) via `invoke`. Checks RelatesTo, turns SOAP faults into
 * WSManFaultError. Each call's HTTP read timeout = OperationTimeout + margin (read > operation, pypsrp uses +2 s).
 *
 * Seam for upper layers (WinRS here, PSRP in src/remoting/):
 *   const ws = new WSManClient(transport, { to: url });
 *   const env = await ws.invoke(Action.Create, resourceUri, bodyXml, { selectors, options, signal, operationTimeout });
 */
import { AbortError, RemoteProtocolError, WSManFaultError } from '../errors.js';
import type { EnvelopeExchange } from '../http/transport.js';
import { buildRequest, faultFromEnvelope, newUuid, parseEnvelope, type Envelope, type WsmanOption } from './envelope.js';
import { Action, NS } from './ns.js';
import { child } from '../xml/dom.js';
import { cutBase64Elements } from '../xml/base64-cut.js';

export interface WSManClientOptions {
  /** the endpoint URL (wsa:To) */
  to: string;
  /**
   * bytes; default 512000 (Windows Server 2012+'s MaxEnvelopeSizekb 500). A server with a smaller limit faults a
   * request larger than its limit with w:EncodingLimit; `learnEnvelopeSize` then lowers this client's size to the
   * server's, and the layer that built the request sends it again, re-split (WinRS stdin, PSRP fragments).
   */
  maxEnvelopeSize?: number;
  /** seconds; default 20 */
  operationTimeout?: number;
  /** ms added to the OperationTimeout for the HTTP read timeout (default 10000); or an absolute readTimeoutMs */
  readTimeoutMarginMs?: number;
  readTimeoutMs?: number;
  locale?: string;
}

export interface InvokeOptions {
  selectors?: Record<string, string>;
  options?: WsmanOption[];
  signal?: AbortSignal;
  /** seconds, overrides the client default for this call */
  operationTimeout?: number;
  /** bytes, overrides the client default for this call (PSRP raises it once protocol >= 2.2 is agreed) */
  maxEnvelopeSize?: number;
  /**
   * the local name of elements whose base64 text is decoded straight from the reply's bytes, outside the XML parser
   * (WinRS Receive: 'Stream'); the reply's `payloads` then hold the data and those elements' text is the index into
   * it (src/xml/base64-cut.ts). Replies it does not apply to are parsed whole, and `payloads` is undefined.
   */
  cutBase64?: string;
}

/** Windows Server 2012+'s default MaxEnvelopeSize (MaxEnvelopeSizekb 500): this client's default. */
export const DEFAULT_ENVELOPE_SIZE = 512000;
/** What every Windows version accepts (2008 R2): the size used when a server refuses a request as too large and says
 *  neither in its fault nor in winrm/config what its limit is. */
export const SAFE_ENVELOPE_SIZE = 153600;
/** ERROR_WSMAN_MAX_ENVELOPE_SIZE (0x80338047): the request's MaxEnvelopeSize header is below 8192 (not a body too large). */
const ENVELOPE_BELOW_MINIMUM = 2150858823;
const CONFIG_URI = 'http://schemas.microsoft.com/wbem/wsman/1/config';

/** True when a request faulted because its envelope was larger than the server's MaxEnvelopeSize (w:EncodingLimit). */
export function isEnvelopeTooLargeFault(e: unknown): e is WSManFaultError {
  return e instanceof WSManFaultError && /(^|:)EncodingLimit$/.test(e.faultSubcode ?? '') && e.wsmanFaultCode !== ENVELOPE_BELOW_MINIMUM;
}

export class WSManClient {
  readonly sessionId = newUuid();
  /** bytes; lowered by `learnEnvelopeSize` when the server's limit turns out smaller */
  maxEnvelopeSize: number;
  /** the host's MaxEnvelopeSize once a request was refused as too large: no request asks for more from then on */
  serverEnvelopeLimit: number | undefined;
  readonly operationTimeout: number;
  constructor(
    readonly transport: EnvelopeExchange,
    readonly opts: WSManClientOptions,
  ) {
    this.maxEnvelopeSize = opts.maxEnvelopeSize ?? DEFAULT_ENVELOPE_SIZE;
    this.operationTimeout = opts.operationTimeout ?? 20;
  }

  get stats() {
    return this.transport.stats;
  }

  async invoke(action: string, resourceUri: string, bodyXml: string, o: InvokeOptions = {}): Promise<Envelope> {
    if (o.signal?.aborted) throw new AbortError();
    const ot = o.operationTimeout ?? this.operationTimeout;
    const readTimeoutMs = Math.max(this.opts.readTimeoutMs ?? 0, ot * 1000 + (this.opts.readTimeoutMarginMs ?? 10000));
    const send = async (maxEnvelopeSize: number) => {
      const { xml, messageId } = buildRequest(
        {
          action,
          resourceUri,
          to: this.opts.to,
          sessionId: this.sessionId,
          maxEnvelopeSize,
          operationTimeout: ot,
          locale: this.opts.locale,
          selectors: o.selectors,
          options: o.options,
        },
        bodyXml,
      );
      const t = this.transport;
      if (o.cutBase64 && t.exchangeBytes) {
        const bytes = await t.exchangeBytes(xml, { signal: o.signal, readTimeoutMs });
        const cut = cutBase64Elements(bytes, o.cutBase64);
        const text = cut ? cut.xml : bytes.toString('utf8');
        // nothing refers to the reply's bytes any more (the payloads are decoded into their own buffers): reusable
        t.recycle?.(bytes);
        const env = this.parseReply(text, messageId);
        if (cut) env.payloads = cut.payloads;
        return { env };
      }
      const reply = await t.exchange(xml, { signal: o.signal, readTimeoutMs });
      return { env: this.parseReply(reply, messageId) };
    };
    const used = Math.min(o.maxEnvelopeSize ?? this.maxEnvelopeSize, this.serverEnvelopeLimit ?? Infinity);
    try {
      return (await send(used)).env;
    } catch (e) {
      // refused as larger than the host's MaxEnvelopeSize: not processed, so it is sent once more with the host's size
      // when the request itself fits in it (a MaxEnvelopeSize header above the host's limit); a body too large is
      // re-split by the layer that built it (WinRS stdin)
      if (!isEnvelopeTooLargeFault(e)) throw e;
      const size = await this.learnEnvelopeSize(e, used, o.signal);
      const bytes = Buffer.byteLength(bodyXml) + 4096;
      if (size === undefined || bytes > size) throw e;
      return (await send(size)).env;
    }
  }

  /** Parse a reply: faults -> WSManFaultError; RelatesTo must match. Exposed for replay tests (recordings). */
  parseReply(reply: string, messageId?: string): Envelope {
    let env: Envelope;
    try {
      env = parseEnvelope(reply);
    } catch (e) {
      throw new RemoteProtocolError(`the server's reply is not a WS-Management envelope: ${(e as Error).message}`, { cause: e });
    }
    const fault = faultFromEnvelope(env);
    if (fault) throw fault;
    if (messageId && env.relatesTo && env.relatesTo !== messageId) {
      throw new RemoteProtocolError(`the reply relates to ${env.relatesTo}, not to the request ${messageId}`);
    }
    if (!env.body) throw new RemoteProtocolError('the server reply has no SOAP Body');
    return env;
  }

  /**
   * After a request of `used` bytes' MaxEnvelopeSize faulted as too large (isEnvelopeTooLargeFault; the server did
   * not process it): the server's limit, from the fault's text (`... maximum envelope size (N bytes)`), else
   * winrm/config's MaxEnvelopeSizekb (readable by administrators), else 150 KiB. Lowers this client's size to it and
   * returns it; undefined when it is not smaller than `used` (a retry would fault again: the caller gives up).
   */
  async learnEnvelopeSize(fault: WSManFaultError, used: number, signal?: AbortSignal): Promise<number | undefined> {
    const m = /maximum envelope size[^0-9]{0,20}(\d{4,9})/i.exec(`${fault.reason ?? ''} ${fault.message}`);
    let size = m ? Number(m[1]) : undefined;
    if (size === undefined) {
      try {
        const env = await this.get(CONFIG_URI, { signal, maxEnvelopeSize: SAFE_ENVELOPE_SIZE });
        const kb = child(child(env.body, NS.cfg, 'Config'), NS.cfg, 'MaxEnvelopeSizekb')?.text.trim();
        if (kb && /^\d{1,7}$/.test(kb)) size = Number(kb) * 1024;
      } catch (e) {
        if (e instanceof AbortError) throw e;
        // not allowed to read the configuration (Windows: administrators only)
      }
    }
    size = Math.max(8192, size ?? SAFE_ENVELOPE_SIZE);
    if (size >= used) return undefined;
    this.maxEnvelopeSize = Math.min(this.maxEnvelopeSize, size);
    this.serverEnvelopeLimit = Math.min(this.serverEnvelopeLimit ?? Infinity, size);
    return size;
  }

  create(resourceUri: string, bodyXml: string, o?: InvokeOptions) {
    return this.invoke(Action.Create, resourceUri, bodyXml, o);
  }
  delete(resourceUri: string, o?: InvokeOptions) {
    return this.invoke(Action.Delete, resourceUri, '', o);
  }
  get(resourceUri: string, o?: InvokeOptions) {
    return this.invoke(Action.Get, resourceUri, '', o);
  }
  put(resourceUri: string, bodyXml: string, o?: InvokeOptions) {
    return this.invoke(Action.Put, resourceUri, bodyXml, o);
  }
  enumerate(
    resourceUri: string,
    bodyXml = '<wsen:Enumerate xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><wsman:OptimizeEnumeration/><wsman:MaxElements>32000</wsman:MaxElements></wsen:Enumerate>',
    o?: InvokeOptions,
  ) {
    return this.invoke(Action.Enumerate, resourceUri, bodyXml, o);
  }
  close(): void {
    this.transport.close();
  }
}

export { WSManFaultError };
