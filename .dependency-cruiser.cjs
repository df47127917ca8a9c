/**
 * dependency-cruiser rules: the layering of docs/architecture.md, enforced (`npm run lint:deps`, run first by
 * `npm test`).
 *
 *   cli, demo, src/index.ts          the command line and the public API
 *   client/, transfer/               Session, WinrsShell, fan-out, the session transports, file transfer
 *   remoting/                        a PSRP runspace pool over a connection (WS-Man shell, OutOfProc: pwsh -s, SSH)
 *   psrp/, winrs/                    sans-IO PSRP state machines; WinRS bodies
 *   wsman/, clixml/                  SOAP envelopes and verbs; the CLIXML serializer
 *   http/, broker/, kdc/             the pinned keep-alive connection, 401 loop, TLS, proxies; the logon-session
 *                                    credential broker's client and wire codec; the KDC exchange (UDP/TCP, DNS SRV)
 *   encryption/                      multipart/encrypted framing (http/ frames bodies with it)
 *   auth/                            the authentication contexts (initiator and acceptor)
 *   asn1/, util/, crypto/, xml/, errors.ts   leaves
 *
 *   server/ (the local endpoint) may use every layer from psrp/ winrs/ down; only cli, demo and src/index.ts use it.
 *
 * Imports point downward only; a folder may import a sibling of its own layer. No import cycles (type-only imports
 * included). psrp/ and clixml/ stay free of transports; auth/ does no socket I/O (the broker client, the KDC exchange
 * and the HTTP connection are injected into it from broker/, kdc/ and http/). There are no tolerated exceptions.
 */

const LAYERS = [
  ['cli', 'demo'],
  ['client', 'transfer'],
  ['remoting'],
  ['psrp', 'winrs'],
  ['wsman', 'clixml'],
  ['http', 'broker', 'kdc'],
  ['encryption'],
  ['auth'],
  ['asn1', 'util', 'crypto', 'xml'],
];
const SERVER_MAY_USE = LAYERS.slice(3).flat();
const dir = (names) => `^src/(${names.join('|')})/`;

const forbidden = [
  {
    name: 'no-circular',
    severity: 'error',
    comment: 'An import cycle (type-only imports included). Break it by moving the shared part down a layer.',
    from: {},
    to: { circular: true },
  },
];

// Downward only: a layer must not import any layer above it.
LAYERS.forEach((layer, i) => {
  if (i === 0) return;
  const above = LAYERS.slice(0, i).flat();
  forbidden.push({
    name: `no-upward-${layer.join('-')}`,
    severity: 'error',
    comment: `${layer.join('/, ')}/ must not import a layer above it (${above.join('/, ')}/) nor server/ nor src/index.ts.`,
    from: { path: dir(layer) },
    to: { path: `(${dir([...above, 'server'])}|^src/index\\.ts$)` },
  });
});

forbidden.push(
  {
    name: 'server-uses-cores',
    severity: 'error',
    comment: `server/ may use ${SERVER_MAY_USE.join('/, ')}/ and errors.ts only (not client/, remoting/, transfer/, cli/).`,
    from: { path: '^src/server/' },
    to: { path: dir(['cli', 'demo', 'client', 'transfer', 'remoting']) },
  },
  {
    name: 'sans-io-psrp-clixml',
    severity: 'error',
    comment: 'psrp/ and clixml/ are sans-IO: they never import wsman/, http/, auth/, encryption/ or node:net/http/https/tls.',
    from: { path: dir(['psrp', 'clixml']) },
    to: { path: `(${dir(['wsman', 'http', 'auth', 'encryption'])}|^(node:)?(net|http|https|tls|http2|dgram)$)` },
  },
  {
    name: 'auth-no-socket-io',
    severity: 'error',
    comment: 'In auth/ only the CredSSP TLS pipe touches node:tls; no sockets or HTTP servers in auth/ (type-only imports are fine).',
    from: { path: '^src/auth/', pathNot: '^src/auth/credssp/tls-pipe\\.ts$' },
    to: { path: '^(node:)?(net|http|https|tls|http2|dgram)$', dependencyTypesNot: ['type-only'] },
  },
  {
    name: 'src-not-tests',
    severity: 'error',
    comment: 'Library code never imports tests, benches or scripts.',
    from: { path: '^src/' },
    to: { path: '^(test|bench|scripts)/' },
  },
);

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(test|bench|scripts|dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
