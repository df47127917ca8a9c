/**
 * CLIXML string escaping (MS-PSRP 2.2.5.3.2 "Encoding Strings"): characters XML 1.0 cannot carry are written
 * as `_xHHHH_` (upper-case hex UTF-16 code unit). Escaped: C0 controls U+0000-001F, U+007F-009F, every
 * surrogate half (a non-BMP char becomes two escapes), U+FFFE/U+FFFF, and the `_` of a literal `_x`/`_X` (as `_x005F_`).
 * Applied to `<S>` text and to property names (`N=`). XML entity escaping (`&amp;` ...) comes on top.
 */

const NEEDS = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff\ufffe\uffff]|_[xX]/;
const HEX = '0123456789ABCDEF';

function esc(code: number): string {
  return '_x' + HEX[(code >> 12) & 15] + HEX[(code >> 8) & 15] + HEX[(code >> 4) & 15] + HEX[code & 15] + '_';
}

/** Escape a JS string (any UTF-16, lone surrogates included) for CLIXML; XML entities are NOT applied here. */
export function encodeClixmlString(s: string): string {
  if (!NEEDS.test(s)) return s;
  let out = '';
  let start = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) rep = esc(c);
    else if (c === 0x5f && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d === 0x78 || d === 0x58) rep = '_x005F_';
    }
    if (rep !== undefined) {
      out += s.slice(start, i) + rep;
      start = i + 1;
    }
  }
  return out + s.slice(start);
}

const ESCAPED = /_[xX]([0-9A-Fa-f]{4})_/g;
/** Decode `_xHHHH_` escapes (case-insensitive hex) into UTF-16 code units. */
export function decodeClixmlString(s: string): string {
  if (s.indexOf('_') < 0) return s;
  return s.replace(ESCAPED, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

const XML_TEXT = /[&<>]/;
const XML_ATTR = /[&<>"]/;
/** XML text escaping after CLIXML escaping. `\r`, `\n`, `\t` never reach here unescaped for S, but may for XD/SBK. */
export function xmlText(s: string): string {
  if (!XML_TEXT.test(s) && !/\r/.test(s)) return s;
  return s.replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#xD;'));
}
export function xmlAttr(s: string): string {
  if (!XML_ATTR.test(s)) return s;
  return s.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}
