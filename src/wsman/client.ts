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
import { Action } from './ns.js';

export interface WSManClientOptions {
  /** the endpoint URL (wsa:To) */
  to: string;
  /** bytes; default 153600 (safe everywhere; Windows 2012+ accepts up to 512000) */
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
}

export class WSManClient {
  readonly sessionId = newUuid();
  readonly maxEnvelopeSize: number;
  readonly operationTimeout: number;
  constructor(readonly transport: EnvelopeExchange, readonly opts: WSManClientOptions) {
    this.maxEnvelopeSize = opts.maxEnvelopeSize ?? 153600;
    this.operationTimeout = opts.operationTimeout ?? 20;
  }

  get stats() { return this.transport.stats; }

  async invoke(action: string, resourceUri: string, bodyXml: string, o: InvokeOptions = {}): Promise<Envelope> {
    if (o.signal?.aborted) throw new AbortError();
    const ot = o.operationTimeout ?? this.operationTimeout;
    const { xml, messageId } = buildRequest({
      action, resourceUri, to: this.opts.to, sessionId: this.sessionId, maxEnvelopeSize: o.maxEnvelopeSize ?? this.maxEnvelopeSize,
      operationTimeout: ot, locale: this.opts.locale, selectors: o.selectors, options: o.options,
    }, bodyXml);
    const readTimeoutMs = Math.max(this.opts.readTimeoutMs ?? 0, ot * 1000 + (this.opts.readTimeoutMarginMs ?? 10000));
    const reply = await this.transport.exchange(xml, { signal: o.signal, readTimeoutMs });
    return this.parseReply(reply, messageId);
  }

  /** Parse a reply: faults -> WSManFaultError; RelatesTo must match. Exposed for replay tests (recordings). */
  parseReply(reply: string, messageId?: string): Envelope {
    let env: Envelope;
    try { env = parseEnvelope(reply); } catch (e) {
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

  create(resourceUri: string, bodyXml: string, o?: InvokeOptions) { return this.invoke(Action.Create, resourceUri, bodyXml, o); }
  delete(resourceUri: string, o?: InvokeOptions) { return this.invoke(Action.Delete, resourceUri, '', o); }
  get(resourceUri: string, o?: InvokeOptions) { return this.invoke(Action.Get, resourceUri, '', o); }
  put(resourceUri: string, bodyXml: string, o?: InvokeOptions) { return this.invoke(Action.Put, resourceUri, bodyXml, o); }
  enumerate(resourceUri: string, bodyXml = '<wsen:Enumerate xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><wsman:OptimizeEnumeration/><wsman:MaxElements>32000</wsman:MaxElements></wsen:Enumerate>', o?: InvokeOptions) {
    return this.invoke(Action.Enumerate, resourceUri, bodyXml, o);
  }
  close(): void { this.transport.close(); }
}

export { WSManFaultError };
