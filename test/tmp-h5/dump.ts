import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { decodeFragments, Defragmenter } from '../../src/psrp/fragment.js';
import { decodeMessage, messageTypeName } from '../../src/psrp/message.js';
const file = process.argv[2]!;
const doc = parse(readFileSync(file, 'utf8'));
const re = /<(?:[\w]+:)?(creationXml|connectXml|Stream|Arguments|connectResponseXml)\b[^>]*>([A-Za-z0-9+/=\s]+)<\//g;
const d = new Defragmenter();
for (const m of doc.messages) {
  for (const [dir, xml] of [['>>', m.request], ['<<', m.response]] as const) {
    if (typeof xml !== 'string') continue;
    for (const mm of xml.matchAll(re)) {
      for (const f of decodeFragments(new Uint8Array(Buffer.from(mm[2]!, 'base64')))) {
        const blob = d.add(f); if (!blob) continue;
        const msg = decodeMessage(blob);
        console.log(dir, messageTypeName(msg.messageType), msg.pid.slice(0,8), new TextDecoder().decode(msg.data).slice(0, Number(process.env.N ?? 600)));
      }
    }
  }
}
