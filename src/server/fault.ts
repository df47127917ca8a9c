/**
 * A WS-Man fault the endpoint sends back (DSP0226 14; MS-WSMV 2.2.4.x): thrown by a resource handler or a limit
 * check, turned into a SOAP fault by the server, which fills in `machine`.
 */
import type { FaultSpec } from '../wsman/envelope.js';

export class WsmanFault extends Error {
  constructor(readonly spec: Omit<FaultSpec, 'machine'> & { faultDetail?: string }) {
    super(spec.reason);
  }
}
