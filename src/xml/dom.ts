/**
 * A small namespace-aware element tree over `saxes` (an XXE-safe, namespace-aware SAX parser).
 * DOCTYPE declarations are refused outright (no DTD, no entity expansion); only the five predefined
 * entities and character references are decoded. Matching is always by namespace URI + local name,
 * never by prefix: Windows answers with other prefixes than we send.
 */
import { createRequire } from 'node:module';
import type { SaxesParser as SaxesParserT, SaxesTagNS } from 'saxes';
import { RemoteProtocolError, WINRM_ERR_XML } from '../errors.js';
import { fastXml } from './fast.js';

export class XmlError extends RemoteProtocolError {
  override readonly code: string = WINRM_ERR_XML;
}

export interface XmlElement {
  readonly ns: string;
  readonly local: string;
  readonly prefix: string;
  /** attributes keyed by local name (unqualified) and by `{ns}local` (qualified) */
  readonly attrs: Map<string, string>;
  readonly children: XmlElement[];
  /** concatenated text content directly inside this element (not descendants) */
  text: string;
  parent?: XmlElement;
}

export interface ParseOptions {
  /** maximum nesting depth (default 256) */
  maxDepth?: number;
  /** maximum input length in characters (default 64 MiB) */
  maxLength?: number;
  /** parse with saxes only, never the fast path (for tests that hold the two to the same result) */
  fullParser?: boolean;
}

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
/** saxes, loaded the first time a document needs it (what WinRM sends takes the fast path; start-up skips it) */
let Saxes: typeof SaxesParserT | undefined;
const saxesParser = (): typeof SaxesParserT => (Saxes ??= (createRequire(import.meta.url)('saxes') as typeof import('saxes')).SaxesParser);

/**
 * The element tree through the fast tokenizer (src/xml/fast.ts), with namespaces resolved as saxes resolves them;
 * undefined at anything it does not take (an unbound or reserved prefix, a duplicate expanded attribute name, depth
 * over the limit, ...): the caller then parses with saxes.
 */
function parseFast(xml: string, maxDepth: number): XmlElement | undefined {
  const stack: XmlElement[] = [];
  const scopes: Array<Map<string, string>> = [new Map([['xml', XML_NS]])];
  const pushed: boolean[] = [];
  let root: XmlElement | undefined;
  let ok = true;
  const onOpen = (name: string, attrs: Record<string, string>): void => {
    if (!ok) return;
    let scope = scopes[scopes.length - 1]!;
    let p = false;
    for (const k in attrs) {
      if (k !== 'xmlns' && !k.startsWith('xmlns:')) continue;
      const prefix = k === 'xmlns' ? '' : k.slice(6);
      const uri = attrs[k]!.trim(); // saxes trims namespace names with String#trim (so U+FEFF, U+00A0 go too)
      if (prefix === 'xml' || prefix === 'xmlns' || (prefix && !uri) || uri === XML_NS || uri === 'http://www.w3.org/2000/xmlns/') {
        ok = false; // what saxes checks or refuses: left to it
        return;
      }
      if (!p) {
        scope = new Map(scope);
        scopes.push(scope);
        p = true;
      }
      scope.set(prefix, uri);
    }
    pushed.push(p);
    const c = name.indexOf(':');
    const prefix = c < 0 ? '' : name.slice(0, c);
    const ns = scope.get(prefix);
    if (ns === undefined && prefix) {
      ok = false;
      return;
    }
    const map = new Map<string, string>();
    const seen = new Set<string>();
    for (const k in attrs) {
      if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
      const ac = k.indexOf(':');
      const local = ac < 0 ? k : k.slice(ac + 1);
      const uri = ac < 0 ? '' : scope.get(k.slice(0, ac));
      if (uri === undefined || seen.has(`${uri}}${local}`)) {
        ok = false;
        return;
      }
      seen.add(`${uri}}${local}`);
      map.set(local, attrs[k]!);
      if (uri) map.set(`{${uri}}${local}`, attrs[k]!);
    }
    const el: XmlElement = { ns: ns ?? '', local: c < 0 ? name : name.slice(c + 1), prefix, attrs: map, children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) {
      el.parent = parent;
      parent.children.push(el);
    } else root = el;
    stack.push(el);
    if (stack.length > maxDepth) ok = false;
  };
  const onText = (t: string): void => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  };
  const onClose = (): void => {
    stack.pop();
    if (pushed.pop()) scopes.pop();
  };
  return fastXml(xml, onOpen, onText, onClose) && ok ? root : undefined;
}

export function parseXml(xml: string, opts: ParseOptions = {}): XmlElement {
  const maxDepth = opts.maxDepth ?? 256;
  const maxLength = opts.maxLength ?? 64 * 1024 * 1024;
  if (xml.length > maxLength) throw new XmlError(`XML document too large (${xml.length} characters, limit ${maxLength})`);
  if (!opts.fullParser) {
    const fast = parseFast(xml, maxDepth);
    if (fast) return fast;
  }
  const parser = new (saxesParser())({ xmlns: true, position: false });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let failure: Error | undefined;
  parser.on('doctype', () => {
    failure ??= new XmlError('XML DOCTYPE declarations are not accepted (DTDs and entities are never processed)');
  });
  parser.on('error', (e) => {
    failure ??= new XmlError(`malformed XML: ${e.message}`);
  });
  parser.on('opentag', (tag) => {
    if (failure) return;
    const t = tag as SaxesTagNS;
    const attrs = new Map<string, string>();
    for (const a of Object.values(t.attributes)) {
      if (a.prefix === 'xmlns' || a.name === 'xmlns') continue;
      attrs.set(a.local, a.value);
      if (a.uri) attrs.set(`{${a.uri}}${a.local}`, a.value);
    }
    const el: XmlElement = { ns: t.uri ?? '', local: t.local ?? t.name, prefix: t.prefix ?? '', attrs, children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) {
      el.parent = parent;
      parent.children.push(el);
    } else if (root) {
      failure = new XmlError('more than one root element');
    } else root = el;
    stack.push(el);
    // stop at once: saxes resolves namespaces through a chain as deep as the nesting, so going on is quadratic
    if (stack.length > maxDepth) throw (failure = new XmlError(`XML nested deeper than ${maxDepth} levels`));
  });
  parser.on('text', (text) => {
    const top = stack[stack.length - 1];
    if (top && !failure) top.text += text;
  });
  parser.on('cdata', (text) => {
    const top = stack[stack.length - 1];
    if (top && !failure) top.text += text;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  try {
    parser.write(xml);
    if (failure) throw failure;
    parser.close();
  } catch (e) {
    if (e instanceof XmlError) throw e;
    throw failure ?? new XmlError(`malformed XML: ${(e as Error).message}`, { cause: e });
  }
  if (failure) throw failure;
  if (!root) throw new XmlError('XML document has no root element');
  return root;
}

/** First direct child with this namespace and local name. */
export function child(el: XmlElement | undefined, ns: string, local: string): XmlElement | undefined {
  if (!el) return undefined;
  for (const c of el.children) if (c.local === local && c.ns === ns) return c;
  return undefined;
}

export function childrenNamed(el: XmlElement | undefined, ns: string, local: string): XmlElement[] {
  if (!el) return [];
  return el.children.filter((c) => c.local === local && c.ns === ns);
}

/** Depth-first search for the first descendant (or self) with this namespace and local name. */
export function find(el: XmlElement | undefined, ns: string, local: string): XmlElement | undefined {
  if (!el) return undefined;
  if (el.ns === ns && el.local === local) return el;
  for (const c of el.children) {
    const r = find(c, ns, local);
    if (r) return r;
  }
  return undefined;
}

export function findAll(el: XmlElement | undefined, ns: string, local: string, out: XmlElement[] = []): XmlElement[] {
  if (!el) return out;
  if (el.ns === ns && el.local === local) out.push(el);
  for (const c of el.children) findAll(c, ns, local, out);
  return out;
}

/** Attribute by unqualified local name, or by `{ns}local`. */
export function attr(el: XmlElement | undefined, name: string, ns?: string): string | undefined {
  if (!el) return undefined;
  return ns ? el.attrs.get(`{${ns}}${name}`) : el.attrs.get(name);
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!);
}
