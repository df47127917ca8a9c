/**
 * dependency-cruiser rules: the layering of docs/architecture.md, enforced (`npm run lint:deps`, run first by
 * `npm test`).
 *
 *   cli, demo, src/index.ts          the command line and the public API
 *   client/, transfer/               Session, WinrsShell, fan-out, the session transports, file transfer
 *   remoting/                        a PSRP runspace pool over a connection (WS-Man shell, OutOfProc: pwsh -s, SSH)
 *   psrp/, winrs/                    sans-IO PSRP state machines; WinRS bodies
 *   wsman/, clixml/                  SOAP envelopes and verbs; the CLIXML serializer
 *   http/                            the pinned keep-alive connection, 401 loop, TLS, proxies
 *   encryption/                      multipart/encrypted framing (http/ frames bodies with it)
 *   auth/                            the authentication contexts (initiator and acceptor)
 *   asn1/, util/, crypto/, xml/, errors.ts   leaves
 *
 *   server/ (the local endpoint) may use every layer from psrp/ winrs/ down; only cli, demo and src/index.ts use it.
 *
 * Imports point downward only; a folder may import a sibling of its own layer. No import cycles (type-only imports
 * included). psrp/ and clixml/ stay free of transports. Existing violations that are not fixed yet are listed in
 * KNOWN below, one entry each with the reason, so that any NEW violation fails; remove an entry when it is fixed.
 */

const LAYERS = [
  ['cli', 'demo'],
  ['client', 'transfer'],
  ['remoting'],
  ['psrp', 'winrs'],
  ['wsman', 'clixml'],
  ['http'],
  ['encryption'],
  ['auth'],
  ['asn1', 'util', 'crypto', 'xml'],
];
const SERVER_MAY_USE = LAYERS.slice(3).flat();
const dir = (names) => `^src/(${names.join('|')})/`;

/**
 * Known violations, to be removed as they are fixed. Each is a { from, to } pair of path regexes.
 */
const KNOWN = {
  // upward imports between the layers above (none today)
  upward: [],
  server: [
    // the endpoint reuses the OutOfProc / WS-Man message codecs that live in remoting/; they belong with their
    // protocol (psrp/, winrs/), which is the planned fix
    { from: '^src/server/', to: '^src/remoting/(outofproc-codec|wsman-messages)\\.ts$' },
  ],
  authIo: [
    // the logon-session broker client does socket I/O from auth/ (reached from http/); it is to become its own module
    { from: '^src/auth/brokered\\.ts$', to: '^(node:)?net$' },
    // the Kerberos KDC exchange (TCP to the KDC) and an isIP() check; to move out of auth/ with the broker
    { from: '^src/auth/kerberos/kdc\\.ts$', to: '^(node:)?(net|dgram)$' },
    { from: '^src/auth/kerberos/context\\.ts$', to: '^(node:)?net$' },
  ],
  // files on an import cycle today (any cycle through only these files is tolerated; a new one fails)
  cycles: [
    // auth/registry.ts and the mechanisms import each other (the registry lists them; they look peers up in it)
    '^src/auth/registry\\.ts$', '^src/auth/(basic|certificate)\\.ts$', '^src/auth/(ntlm|spnego|kerberos|credssp)/index\\.ts$',
    '^src/auth/credssp/(inner|initiator|acceptor)\\.ts$',
    // Session.copy/fetch call transfer/, whose helpers import the Session's invoke types (type-only)
    '^src/client/session\\.ts$', '^src/transfer/',
    // server/limits.ts throws dispatch.ts's WsmanFault; dispatch.ts takes the EndpointLimits type (type-only)
    '^src/server/(dispatch|limits)\\.ts$',
    // the CLI's fan-out runner and queue submitter share helpers both ways
    '^src/cli/fanout-run\\.ts$', '^src/cli/queue/(submit|protocol)\\.ts$',
  ],
};

const forbidden = [
  {
    name: 'no-circular',
    severity: 'error',
    comment: 'An import cycle (type-only imports included). Break it by moving the shared part down a layer.',
    from: {},
    to: { circular: true, via: { pathNot: `(${KNOWN.cycles.join('|')})` } },
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
    to: { path: `(${dir([...above, 'server'])}|^src/index\\.ts$)`, pathNot: KNOWN.upward.map((k) => k.to).join('|') || '^$' },
  });
});

forbidden.push(
  {
    name: 'server-uses-cores',
    severity: 'error',
    comment: `server/ may use ${SERVER_MAY_USE.join('/, ')}/ and errors.ts only (not client/, remoting/, transfer/, cli/).`,
    from: { path: '^src/server/' },
    to: { path: dir(['cli', 'demo', 'client', 'transfer', 'remoting']), pathNot: KNOWN.server.map((k) => k.to).join('|') },
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
    from: { path: '^src/auth/', pathNot: ['^src/auth/credssp/tls-pipe\\.ts$', ...KNOWN.authIo.map((k) => k.from)].join('|') },
    to: { path: '^(node:)?(net|http|https|tls|http2|dgram)$', dependencyTypesNot: ['type-only'] },
  },
  ...KNOWN.authIo.map((k, i) => ({
    name: `auth-no-socket-io-known-${i + 1}`,
    severity: 'error',
    comment: `A known exception (KNOWN.authIo) may import ${k.to} and nothing more of node:net/http/https/tls/dgram.`,
    from: { path: k.from },
    to: { path: '^(node:)?(net|http|https|tls|http2|dgram)$', pathNot: k.to, dependencyTypesNot: ['type-only'] },
  })),
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
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
