/**
 * MS-PSRP 2.2.1 PowerShell Remoting Protocol Message: little-endian header, .NET GUID byte order, UTF-8 CLIXML data.
 */
import { RemoteProtocolError } from '../errors.js';
import { bytesToGuid, guidToBytes, utf8 } from '../util/bytes.js';

/** MS-PSRP 2.2.1 Destination. */
export enum Destination {
  Client = 0x00000001,
  Server = 0x00000002,
}

/** MS-PSRP 2.2.1 MessageType. */
export enum MessageType {
  SESSION_CAPABILITY = 0x00010002,
  INIT_RUNSPACEPOOL = 0x00010004,
  PUBLIC_KEY = 0x00010005,
  ENCRYPTED_SESSION_KEY = 0x00010006,
  PUBLIC_KEY_REQUEST = 0x00010007,
  CONNECT_RUNSPACEPOOL = 0x00010008,
  SET_MAX_RUNSPACES = 0x00021002,
  SET_MIN_RUNSPACES = 0x00021003,
  RUNSPACE_AVAILABILITY = 0x00021004,
  RUNSPACEPOOL_STATE = 0x00021005,
  CREATE_PIPELINE = 0x00021006,
  GET_AVAILABLE_RUNSPACES = 0x00021007,
  USER_EVENT = 0x00021008,
  APPLICATION_PRIVATE_DATA = 0x00021009,
  GET_COMMAND_METADATA = 0x0002100a,
  RUNSPACEPOOL_INIT_DATA = 0x0002100b,
  RESET_RUNSPACE_STATE = 0x0002100c,
  RUNSPACEPOOL_HOST_CALL = 0x00021100,
  RUNSPACEPOOL_HOST_RESPONSE = 0x00021101,
  PIPELINE_INPUT = 0x00041002,
  END_OF_PIPELINE_INPUT = 0x00041003,
  PIPELINE_OUTPUT = 0x00041004,
  ERROR_RECORD = 0x00041005,
  PIPELINE_STATE = 0x00041006,
  DEBUG_RECORD = 0x00041007,
  VERBOSE_RECORD = 0x00041008,
  WARNING_RECORD = 0x00041009,
  PROGRESS_RECORD = 0x00041010,
  INFORMATION_RECORD = 0x00041011,
  PIPELINE_HOST_CALL = 0x00041100,
  PIPELINE_HOST_RESPONSE = 0x00041101,
}

export const EMPTY_GUID = '00000000-0000-0000-0000-000000000000';
/** Header size: Destination(4) MessageType(4) RPID(16) PID(16). */
export const MESSAGE_HEADER_SIZE = 40;
const BOM = [0xef, 0xbb, 0xbf];

/** MS-PSRP 2.2.1 message. GUIDs are upper-case D-format strings; `data` is the UTF-8 CLIXML (BOM stripped). */
export interface PSRPMessage {
  destination: Destination;
  messageType: number;
  rpid: string;
  pid: string;
  data: Uint8Array;
}

/** MS-PSRP 2.2.1: encode a message (data sent without a BOM, as psrpcore/pypsrp do). */
export function encodeMessage(m: {
  destination: Destination;
  messageType: number;
  rpid: string;
  pid?: string;
  data: string | Uint8Array;
}): Uint8Array {
  const data = typeof m.data === 'string' ? utf8(m.data) : m.data;
  const out = new Uint8Array(MESSAGE_HEADER_SIZE + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, m.destination, true);
  dv.setUint32(4, m.messageType >>> 0, true);
  out.set(guidToBytes(m.rpid), 8);
  out.set(guidToBytes(m.pid ?? EMPTY_GUID), 24);
  out.set(data, MESSAGE_HEADER_SIZE);
  return out;
}

/** MS-PSRP 2.2.1: decode a reassembled message. Throws RemoteProtocolError on a short or malformed header. */
export function decodeMessage(b: Uint8Array): PSRPMessage {
  if (b.length < MESSAGE_HEADER_SIZE) {
    throw new RemoteProtocolError(`PSRP message of ${b.length} bytes is shorter than its 40-byte header (MS-PSRP 2.2.1)`);
  }
  const destination = u32le(b, 0);
  if (destination !== Destination.Client && destination !== Destination.Server) {
    throw new RemoteProtocolError(`PSRP message has an unknown Destination 0x${destination.toString(16)} (MS-PSRP 2.2.1)`);
  }
  let data = b.subarray(MESSAGE_HEADER_SIZE);
  if (data.length >= 3 && data[0] === BOM[0] && data[1] === BOM[1] && data[2] === BOM[2]) data = data.subarray(3);
  return {
    destination,
    messageType: u32le(b, 4),
    rpid: guidAt(b, 8),
    pid: guidAt(b, 24),
    data,
  };
}

/** The little-endian u32 at b[off] (no DataView to allocate per message). */
function u32le(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** The GUID at b[off, off + 16): the messages of a stream carry the same few (pool, pipeline), so the last ones
 *  decoded are kept with their bytes and reused rather than formatted again for every message. */
const guidCache: Array<{ bytes: Uint8Array; text: string }> = [];
function guidAt(b: Uint8Array, off: number): string {
  for (const c of guidCache) {
    const x = c.bytes;
    let same = true;
    for (let i = 0; i < 16; i++)
      if (x[i] !== b[off + i]) {
        same = false;
        break;
      }
    if (same) return c.text;
  }
  const bytes = b.slice(off, off + 16);
  const text = bytesToGuid(bytes);
  guidCache.unshift({ bytes, text });
  if (guidCache.length > 4) guidCache.pop();
  return text;
}

export function messageTypeName(t: number): string {
  return MessageType[t] ?? `0x${t.toString(16).padStart(8, '0')}`;
}
