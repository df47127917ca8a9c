/**
 * Bulk base64 out of the XML parser: in a reply's bytes, the text of every element with a given local name (WinRS
 * `rsp:Stream`) is decoded straight from its byte range and replaced by its index ("0", "1", ...), so the XML parser
 * (src/xml/dom.ts) only sees the small remainder (headers, CommandState, faults). Sans-IO, bytes in.
 *
 *   const cut = cutBase64Elements(body, 'Stream');        // undefined: not applicable, parse the whole body instead
 *   if (cut) { const root = parseXml(cut.xml); ... payload of a cut element = cut.payloads[Number(el.text)] }
 *
 * Exactly the same result as parsing the whole body and base64-decoding the element text (the differential fuzz test
 * test/fuzz/receive-fast-fuzz.test.ts holds the two paths to it), because it applies only where that is certain and
 * otherwise returns undefined (the caller then parses everything, slowly, with the same outcome as before):
 *  - no comments, CDATA, DOCTYPE (`<!`) and no processing instruction other than a leading XML declaration;
 *  - every element with that local name is empty, self-closing, or holds only base64 text (no child element, no
 *    entity or character reference) up to its own end tag;
 *  - the text is strict base64: length a multiple of 4, alphabet A-Z a-z 0-9 + /, `=` padding only at the end, no
 *    white space. Checked without a per-character loop: `-` and `_` (which Node's decoder would also take) are looked
 *    for with indexOf, and any other character Node's decoder skips makes the decoded length come out short.
 * Bounded: bodies over `maxBytes` are not cut (the caller's parser applies its own limit).
 */
const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const COLON = 0x3a;
const QUOT = 0x22;
const APOS = 0x27;
const AMP = 0x26;
const EQ = 0x3d;
const DASH = 0x2d;
const UNDERSCORE = 0x5f;

export interface CutResult {
  /** the body as text with each cut element's content replaced by its index */
  xml: string;
  /** decoded contents, by index */
  payloads: Buffer[];
}

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Decode strict base64 from buf[a, b) or return undefined when it is not strict base64 (see above). */
export function decodeStrictBase64(buf: Buffer, a: number, b: number): Buffer | undefined {
  const n = b - a;
  if (n % 4 !== 0) return undefined;
  const sub = buf.subarray(a, b);
  if (sub.indexOf(DASH) >= 0 || sub.indexOf(UNDERSCORE) >= 0) return undefined;
  let pad = 0;
  const eq = sub.indexOf(EQ);
  if (eq >= 0) {
    if (eq < n - 2) return undefined;
    pad = n - eq;
    if (pad === 2 && sub[n - 1] !== EQ) return undefined;
  }
  const size = (n / 4) * 3 - pad;
  const out = Buffer.allocUnsafe(size);
  // in pieces of 64 KiB of text: a string over V8's regular object size (128 KiB) lands in the large-object space,
  // and allocating those at this rate runs a full GC every few of them (40 MB/s instead of GB/s)
  let o = 0;
  for (let x = 0; x < n; x += PIECE) {
    const end = Math.min(x + PIECE, n);
    const w = out.write(sub.toString('latin1', x, end), o, 'base64');
    // any character the decoder skipped (white space, anything outside the alphabet) shortens the output
    if (w !== ((end - x) / 4) * 3 - (end === n ? pad : 0)) return undefined;
    o += w;
  }
  return out;
}
const PIECE = 65536;

/** Base64 text without whitespace or other characters (`isBase64Text`): what an OutOfProc `<Data>` carries. */
export type Base64Text = string & { readonly __base64: unique symbol };
let scratch = Buffer.alloc(0);
/**
 * Strict base64 text (no whitespace, no base64url, padding only at the end): the string twin of decodeStrictBase64,
 * for text that can go into an OutOfProc `<Data>` line as it is.
 * Checked by decoding into a scratch buffer: Node skips what is not base64, so any such character shortens the
 * result (about 60x faster than a regular expression over the text).
 */
export function isBase64Text(s: string): s is Base64Text {
  const n = s.length;
  if (n === 0 || n % 4 !== 0 || s.indexOf('-') >= 0 || s.indexOf('_') >= 0) return false;
  const pad = s.charCodeAt(n - 1) === 61 ? (s.charCodeAt(n - 2) === 61 ? 2 : 1) : 0;
  const want = (n / 4) * 3 - pad;
  if (scratch.length < want) scratch = Buffer.allocUnsafe(Math.max(want, 64 * 1024));
  return scratch.write(s, 0, 'base64') === want;
}

/**
 * Cut the base64 text of every element named `local` (any prefix) out of `body`; undefined when the body is not one
 * this can handle exactly (see the file comment).
 */
export function cutBase64Elements(body: Buffer, local: string, maxBytes = 64 * 1024 * 1024): CutResult | undefined {
  if (body.length > maxBytes) return undefined;
  if (body.indexOf('<!') >= 0) return undefined;
  const pi = body.indexOf('<?');
  if (pi >= 0 && (pi > 3 || body.indexOf('<?', pi + 2) >= 0)) return undefined;
  const name = Buffer.from(local, 'latin1');
  const len = body.length;
  const pieces: Buffer[] = [];
  const payloads: Buffer[] = [];
  let last = 0;
  let p = 0;
  while ((p = body.indexOf(LT, p)) >= 0) {
    if (body[p + 1] === SLASH) {
      p += 2;
      continue;
    } // an end tag
    const nameStart = p + 1;
    let i = nameStart;
    while (i < len) {
      const c = body[i]!;
      if (c === GT || c === SLASH || isSpace(c) || c === LT) break;
      i++;
    }
    const nl = i - nameStart;
    const matches =
      nl >= name.length &&
      body.compare(name, 0, name.length, i - name.length, i) === 0 &&
      (nl === name.length || body[i - name.length - 1] === COLON);
    if (!matches) {
      p = i;
      continue;
    }
    // end of the start tag (quotes may hold `>`; a `<` here is malformed: leave it to the parser)
    let j = i;
    let quote = 0;
    for (; j < len; j++) {
      const c = body[j]!;
      if (c === LT) return undefined;
      if (quote) {
        if (c === quote) quote = 0;
      } else if (c === QUOT || c === APOS) quote = c;
      else if (c === GT) break;
    }
    if (j >= len) return undefined;
    if (body[j - 1] === SLASH) {
      p = j + 1;
      continue;
    } // <x:Stream .../>
    const k = body.indexOf(LT, j + 1);
    if (k < 0 || body[k + 1] !== SLASH) return undefined; // no end tag next: a child element, or truncated
    // the end tag must close this element: </ + the same qualified name + optional blanks + >
    let e = k + 2 + nl;
    if (e > len || body.compare(body, nameStart, i, k + 2, e) !== 0) return undefined;
    while (isSpace(body[e])) e++;
    if (body[e] !== GT) return undefined;
    if (k > j + 1) {
      if (body.subarray(j + 1, k).indexOf(AMP) >= 0) return undefined;
      const data = decodeStrictBase64(body, j + 1, k);
      if (!data) return undefined;
      pieces.push(body.subarray(last, j + 1), Buffer.from(String(payloads.length), 'latin1'));
      payloads.push(data);
      last = k;
    }
    p = e + 1;
  }
  if (!payloads.length) return { xml: body.toString('utf8'), payloads };
  pieces.push(body.subarray(last));
  // cuts are at `>` and `<`, never inside a multi-byte UTF-8 sequence
  return { xml: Buffer.concat(pieces).toString('utf8'), payloads };
}
