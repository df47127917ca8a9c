/**
 * The floor for stdout streaming: a minimal WinRS client (Basic over HTTP, one keep-alive socket, no XML parser, no
 * validation, no error handling) that runs one command and counts its stdout bytes. bench/stream.ts measures the
 * project's client as a percentage of this one against the same endpoint.
 * usage: node bench/minimal-client.mjs URL USER PASSWORD MAX_ENVELOPE_SIZE COMMAND_LINE  -> prints {"bytes":N}
 */
import net from 'node:net';
import { randomUUID } from 'node:crypto';

const [url, user, password, mes, line] = process.argv.slice(2);
const u = new URL(url);
const auth = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const RSP = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell';
const CMD_URI = `${RSP}/cmd`;
const sock = net.connect({ host: u.hostname, port: Number(u.port) });
await new Promise((r) => sock.once('connect', r));
sock.setNoDelay(true);

let pending = Buffer.alloc(0);
let want = -1;
let waiter;
sock.on('data', (d) => {
  pending = pending.length ? Buffer.concat([pending, d]) : d;
  for (;;) {
    if (want < 0) {
      const e = pending.indexOf('\r\n\r\n');
      if (e < 0) return;
      want = Number(/content-length:\s*(\d+)/i.exec(pending.subarray(0, e).toString('latin1'))[1]);
      pending = pending.subarray(e + 4);
    }
    if (pending.length < want) return;
    const body = pending.subarray(0, want);
    pending = pending.subarray(want);
    want = -1;
    const w = waiter;
    waiter = undefined;
    w(body);
  }
});

function post(action, body, selectors = '', options = '') {
  const xml =
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="${RSP}">` +
    `<s:Header><a:To>${url}</a:To><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>` +
    `<a:Action>${action}</a:Action><w:MaxEnvelopeSize>${mes}</w:MaxEnvelopeSize><a:MessageID>uuid:${randomUUID()}</a:MessageID>` +
    `<w:ResourceURI>${CMD_URI}</w:ResourceURI><w:OperationTimeout>PT20S</w:OperationTimeout>${selectors}${options}</s:` +
    `Header><s:Body>${body}</s:Body></s:Envelope>`;
  const b = Buffer.from(xml);
  sock.write(
    `POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: ${auth}\r\nContent-Type: application/soap+xml;` +
      `charset=UTF-8\r\nContent-Length: ${b.length}\r\n\r\n`,
  );
  sock.write(b);
  return new Promise((r) => {
    waiter = r;
  });
}
const text = (b, tag) => {
  const s = b.toString('latin1');
  const i = s.indexOf(`${tag}>`);
  return s.slice(i + tag.length + 1, s.indexOf('<', i));
};

const created = await post(
  'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create',
  '<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>',
);
const shellId = /Name="ShellId">([^<]+)</.exec(created.toString('latin1'))[1];
const sel = `<w:SelectorSet><w:Selector Name="ShellId">${shellId}</w:Selector></w:SelectorSet>`;
const esc = line.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const started = await post(`${RSP}/Command`, `<rsp:CommandLine><rsp:Command>${esc}</rsp:Command></rsp:CommandLine>`, sel);
const commandId = text(started, 'rsp:CommandId');
let bytes = 0;
const open = Buffer.from('<rsp:Stream');
const close = Buffer.from('</rsp:Stream>');
for (;;) {
  const r = await post(
    `${RSP}/Receive`,
    `<rsp:Receive><rsp:DesiredStream CommandId="${commandId}">stdout stderr</rsp:DesiredStream></rsp:Receive>`,
    sel,
  );
  let p = 0;
  while ((p = r.indexOf(open, p)) >= 0) {
    const a = r.indexOf(0x3e, p) + 1;
    const b = r.indexOf(close, a);
    for (let x = a; x < b; x += 65536) bytes += Buffer.from(r.toString('latin1', x, Math.min(x + 65536, b)), 'base64').length;
    p = b;
  }
  if (r.indexOf('CommandState/Done') >= 0) break;
}
await post('http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete', '', sel);
sock.end();
console.log(JSON.stringify({ bytes }));
