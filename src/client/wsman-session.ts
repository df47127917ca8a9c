/**
 * `Session.open({ transport: 'wsman', computerName, ... })`: the WS-Man (WinRM) transport of the Session, with the
 * connection options of the client (`connect()` in src/client/client.ts: auth, HTTPS, CA / fingerprint, CredSSP
 * delegation, timeouts). `computerName` is the host (`host[:port]`); `host` stays the PowerShell host handler.
 *
 *   const s = await Session.open({ transport: 'wsman', computerName: 'win1', username: 'EXAMPLE\\alice', password,
 *     auth: 'negotiate', configurationName: 'Microsoft.PowerShell' });
 */
import { connect, type ConnectOptions } from './client.js';
import { InvalidArgumentError } from '../errors.js';
import { WSManTransport } from '../remoting/wsman-transport.js';

/** Session options understood by the 'wsman' transport (besides SessionOptions). */
export interface WSManSessionOptions extends Partial<Omit<ConnectOptions, 'host'>> {
  /** host[:port] of the WinRM endpoint */
  computerName?: string;
  /** or a ready set of connection options (computerName and the flat options are ignored then) */
  connection?: ConnectOptions;
  /** `Microsoft.PowerShell` (default), a JEA / custom configuration, or a full resource URI */
  configurationName?: string;
  /** seconds the host keeps a disconnected session (Create / Disconnect IdleTimeOut) */
  idleTimeout?: number;
}

const CONNECT_KEYS: Array<Exclude<keyof ConnectOptions, 'host'>> = [
  'port',
  'https',
  'path',
  'username',
  'password',
  'ntHash',
  'auth',
  'encryption',
  'ca',
  'fingerprint',
  'insecure',
  'delegateTo',
  'credsspMinVersion',
  'spn',
  'connectTimeout',
  'operationTimeout',
  'readTimeout',
  'maxEnvelopeSize',
  'locale',
  'onWarning',
  'maxConnections',
  'authContext',
  'allowUnencrypted',
  'clientCertificate',
  'proxy',
  'noProxy',
  'tlsServerName',
  'trustedHosts',
  'trustedHostsSource',
];

/** ConnectOptions from Session options (maxConnections defaults to 4: one long poll per running pipeline). */
export function connectionOptionsFrom(o: WSManSessionOptions): ConnectOptions {
  if (o.connection) return { maxConnections: 4, ...o.connection };
  if (!o.computerName || typeof o.computerName !== 'string')
    throw new InvalidArgumentError("the 'wsman' transport needs computerName (host[:port] of the WinRM endpoint)");
  const c: Record<string, unknown> = { host: o.computerName, maxConnections: 4 };
  for (const k of CONNECT_KEYS) if (o[k] !== undefined) c[k] = o[k];
  return c as unknown as ConnectOptions;
}

/** Build the transport (and its HTTP client, closed with it). */
export function createWSManTransport(o: WSManSessionOptions): WSManTransport {
  const client = connect(connectionOptionsFrom(o));
  return new WSManTransport(client.wsman, { configurationName: o.configurationName, idleTimeout: o.idleTimeout, owner: client });
}
