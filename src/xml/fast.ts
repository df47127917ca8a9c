/**
 * The fast path of XML parsing for what WinRM and PowerShell write: a tokenizer for a strict subset of XML that gives
 * exactly the events saxes (non-namespace mode) gives for it: open(qualified name, attributes), text (entities
 * decoded, in pieces), close. Returns false, possibly having given some events already, at anything outside the
 * subset; the caller then starts over with saxes, which also reports every error (src/clixml/deserialize.ts,
 * src/xml/dom.ts; differential fuzz tests hold both paths to the same result). The subset:
 *  - only characters in [\t\n\x20-\uD7FF\uE000-\uFFFD] (no \r: XML turns \r\n into \n; no surrogates), no `]]>`;
 *  - no comment, CDATA, processing instruction or DOCTYPE (`<!`, `<?`), no byte order mark;
 *  - names [A-Za-z_][A-Za-z0-9._-]* with at most one `:` prefix; attribute values quoted, without `<`, tabs or
 *    newlines (which XML normalises), no duplicate attribute;
 *  - references only &lt; &gt; &amp; &quot; &apos; (no character references);
 *  - one root element, end tags matching, only white space outside it.
 */
const FAST_CHARS = /[^\t\n\x20-\uD7FF\uE000-\uFFFD]|\]\]>/;
const NAME_RE = /[A-Za-z_][A-Za-z0-9._-]*(?::[A-Za-z_][A-Za-z0-9._-]*)?/y;
const ATTR_VALUE_BAD = /[<\t\n]/;
const ENTITY_RE = /&(?:(lt)|(gt)|(amp)|(quot)|(apos));|&/g;
const ENTITY_TEXT: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
/** Decode the five predefined entities; undefined when there is any other `&`. */
function decodeEntities(t: string): string | undefined {
  if (t.indexOf('&') < 0) return t;
  let bad = false;
  const out = t.replace(ENTITY_RE, (m: string) => {
    const v = m.length > 1 ? ENTITY_TEXT[m.slice(1, -1)] : undefined;
    if (v === undefined) bad = true;
    return v ?? m;
  });
  return bad ? undefined : out;
}
const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x09;

export function fastXml(
  xml: string,
  onOpen: (name: string, attrs: Record<string, string>) => void,
  onText: (text: string) => void,
  onClose: () => void,
): boolean {
  if (FAST_CHARS.test(xml)) return false;
  const n = xml.length;
  const open: string[] = [];
  let rootDone = false;
  let i = 0;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    const end = lt < 0 ? n : lt;
    if (end > i) {
      const raw = xml.slice(i, end);
      if (!open.length) {
        // outside the root: white space only
        for (let k = 0; k < raw.length; k++) if (!isWs(raw.charCodeAt(k))) return false;
      } else {
        const t = decodeEntities(raw);
        if (t === undefined) return false;
        onText(t);
      }
    }
    if (lt < 0) break;
    i = lt + 1;
    const c = xml.charCodeAt(i);
    if (c === 0x2f) {
      // </name S? >
      NAME_RE.lastIndex = i + 1;
      const m = NAME_RE.exec(xml);
      if (!m || open[open.length - 1] !== m[0]) return false;
      let j = NAME_RE.lastIndex;
      while (j < n && isWs(xml.charCodeAt(j))) j++;
      if (xml.charCodeAt(j) !== 0x3e) return false;
      open.pop();
      onClose();
      if (!open.length) rootDone = true;
      i = j + 1;
      continue;
    }
    if (rootDone) return false; // a second root (or a comment/PI after it): the full parser decides
    NAME_RE.lastIndex = i;
    const m = NAME_RE.exec(xml);
    if (!m) return false; // `<!`, `<?`, or not a name we take
    const name = m[0];
    let j = NAME_RE.lastIndex;
    const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
    for (;;) {
      const ws = j;
      while (j < n && isWs(xml.charCodeAt(j))) j++;
      const d = xml.charCodeAt(j);
      if (d === 0x3e || d === 0x2f) break;
      if (j === ws) return false; // attributes are separated by white space
      NAME_RE.lastIndex = j;
      const a = NAME_RE.exec(xml);
      if (!a) return false;
      j = NAME_RE.lastIndex;
      while (j < n && isWs(xml.charCodeAt(j))) j++;
      if (xml.charCodeAt(j) !== 0x3d) return false;
      j++;
      while (j < n && isWs(xml.charCodeAt(j))) j++;
      const q = xml.charCodeAt(j);
      if (q !== 0x22 && q !== 0x27) return false;
      const close = xml.indexOf(q === 0x22 ? '"' : "'", j + 1);
      if (close < 0) return false;
      const raw = xml.slice(j + 1, close);
      if (ATTR_VALUE_BAD.test(raw)) return false;
      const v = decodeEntities(raw);
      if (v === undefined || attrs[a[0]] !== undefined) return false;
      attrs[a[0]] = v;
      j = close + 1;
    }
    const selfClosing = xml.charCodeAt(j) === 0x2f;
    if (selfClosing && xml.charCodeAt(j + 1) !== 0x3e) return false;
    open.push(name);
    onOpen(name, attrs);
    if (selfClosing) {
      open.pop();
      onClose();
      if (!open.length) rootDone = true;
      j++;
    }
    i = j + 1;
  }
  return rootDone;
}
