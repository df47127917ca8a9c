/**
 * The host list of `-H`: `a,b,c` (comma-separated), `@hosts.txt` (one host[:port] a line, `#` comments, blank lines
 * ignored; commas inside a line also separate hosts), or a mix (`-H a,@more.txt`). Hosts are kept as given (they
 * become PSComputerName); duplicates are dropped, first one wins.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../errors.js';
import { parseHostPort } from '../client/client.js';
import { applyProfile, profileContext, profileFor } from './config.js';

/** True when -H names more than one host, or a file (the fan-out path). */
export function isHostList(h: string | undefined): boolean {
  if (!h) return false;
  return h.includes(',') || h.trim().startsWith('@');
}

/** Parse a host list; `readFile` is injectable for tests. */
export function parseHostList(
  spec: string,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
  warn: (m: string) => void = (m) => process.stderr.write(`winrm-ts: ${m}\n`),
): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (h: string, where: string) => {
    const host = h.trim();
    if (!host) return;
    if (/\s/.test(host)) throw new InvalidArgumentError(`${where}: "${host}" is not a host[:port] (one host per line, or a,b,c)`);
    const hp = parseHostPort(host);
    if (!hp.host || (hp.port !== undefined && (hp.port < 1 || hp.port > 65535)))
      throw new InvalidArgumentError(`${where}: bad host[:port] "${host}"`);
    if (!hp.host.includes(':') && host.includes(':') && hp.port === undefined) {
      throw new InvalidArgumentError(`${where}: bad host[:port] "${host}" (an IPv6 address goes in brackets: [::1]:5985)`);
    }
    if (!seen.has(host)) {
      seen.add(host);
      out.push(host);
    } else warn(`${where}: ${host} is listed more than once: it runs once`);
  };
  for (const part of spec.split(',')) {
    const item = part.trim();
    if (!item) continue;
    if (item.startsWith('@')) {
      const path = item.slice(1);
      if (!path) throw new InvalidArgumentError('-H @FILE: give a file name after @');
      let text: string;
      try {
        text = readFile(path);
      } catch (e) {
        throw new InvalidArgumentError(`cannot read the host list ${path}: ${(e as Error).message}`);
      }
      text.split(/\r?\n/).forEach((line, n) => {
        const body = line.replace(/#.*$/, '');
        for (const h of body.split(',')) add(h, `${path}:${n + 1}`);
      });
    } else add(item, '-H');
  }
  if (!out.length) throw new InvalidArgumentError(`-H ${spec}: no hosts in the list`);
  return out;
}

/**
 * The flag values for one host of a list: `{ ...flags, host: name }`, with the profile `name` of the config file
 * applied (its address and settings; flags given on the command line win). A list runs over one transport: a
 * profile whose `ssh` differs from the list's is an error.
 */
export function hostFlags<T extends object>(flags: T, name: string): T & { host: string } {
  const out = { ...flags, host: name } as T & { host: string };
  const ctx = profileContext(flags);
  if (!ctx?.config || ctx.single) return out;
  const r = profileFor(ctx.config, name);
  if (!r) return out;
  const ssh = (flags as { ssh?: boolean }).ssh;
  if (ctx.known.has('ssh') && r.profile.ssh !== undefined && !!r.profile.ssh !== !!ssh && !ctx.explicit.has('ssh')) {
    throw new InvalidArgumentError(
      `config file ${ctx.config.path}: hosts.${name} is reached ${r.profile.ssh ? 'over SSH' : 'over WinRM'}, but the host list ` +
        `runs ${ssh ? 'over SSH' : 'over WinRM'}: one list uses one transport (list the SSH hosts with --ssh separately)`,
    );
  }
  applyProfile(out as Record<string, unknown>, name, r, ctx);
  return out;
}
