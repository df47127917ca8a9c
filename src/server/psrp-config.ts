/**
 * Session configurations of the endpoint's PowerShell resource (the `WSMan:\localhost\Plugin` names Windows keeps):
 * `Microsoft.PowerShell` (full language, every command) plus names declared in a JSON file (`serve --session-config`):
 *
 *   { "name": "JEARole", "visibleCommands": ["Get-Date", "Measure-Object"], "language": "NoLanguage" }
 *   (or an array of such objects)
 *
 * A restricted configuration is enforced by real PowerShell: pwsh is started with `-ConfigurationFile X.pssc`, a
 * session configuration file with SessionType RestrictedRemoteServer, VisibleCmdlets/VisibleFunctions and the
 * LanguageMode — the JEA mechanism itself. Also finds the pwsh executable (`--pwsh`, WINRM_TS_PWSH, the peers
 * folder, PATH).
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

/** The resource URI prefix of PowerShell session configurations (MS-PSRP 3.1.4.1.30, 3.1.5.3.3). */
export const PSRP_URI_PREFIX = 'http://schemas.microsoft.com/powershell/';
export const DEFAULT_CONFIGURATION = 'Microsoft.PowerShell';

export type LanguageMode = 'FullLanguage' | 'ConstrainedLanguage' | 'RestrictedLanguage' | 'NoLanguage';
const LANGUAGES: LanguageMode[] = ['FullLanguage', 'ConstrainedLanguage', 'RestrictedLanguage', 'NoLanguage'];

export interface SessionConfiguration {
  name: string;
  /** undefined = every command (an unrestricted configuration) */
  visibleCommands?: string[];
  language?: LanguageMode;
}

/** Parse the `--session-config` JSON (one object or an array). */
export function parseSessionConfigs(text: string, source = 'session configuration file'): SessionConfiguration[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`${source} is not JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((o, i) => {
    const where = `${source} entry ${i + 1}`;
    if (!o || typeof o !== 'object')
      throw new InvalidArgumentError(`${where}: expected an object { "name": ..., "visibleCommands": [...], "language": ... }`);
    const r = o as Record<string, unknown>;
    if (typeof r.name !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(r.name))
      throw new InvalidArgumentError(`${where}: "name" must be letters, digits, '.', '_' or '-'`);
    let visibleCommands: string[] | undefined;
    if (r.visibleCommands !== undefined) {
      if (
        !Array.isArray(r.visibleCommands) ||
        r.visibleCommands.some((c) => typeof c !== 'string' || !/^[A-Za-z0-9_.*-]{1,200}$/.test(c))
      ) {
        throw new InvalidArgumentError(`${where}: "visibleCommands" must be an array of command names (e.g. "Get-Date")`);
      }
      visibleCommands = r.visibleCommands as string[];
    }
    let language: LanguageMode | undefined;
    if (r.language !== undefined) {
      if (!LANGUAGES.includes(r.language as LanguageMode))
        throw new InvalidArgumentError(`${where}: "language" must be one of ${LANGUAGES.join(', ')}`);
      language = r.language as LanguageMode;
    }
    return { name: r.name, visibleCommands, language };
  });
}

export function loadSessionConfigs(path: string): SessionConfiguration[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read --session-config ${path}: ${(e as Error).message}`);
  }
  return parseSessionConfigs(text, path);
}

const psq = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The text of a PowerShell session configuration file (.pssc) for a restricted configuration. */
export function psscText(c: SessionConfiguration): string {
  const cmds = c.visibleCommands ?? [];
  const lines = [
    '@{',
    "SchemaVersion = '2.0.0.0'",
    `GUID = '${randomUUID()}'`,
    "SessionType = 'RestrictedRemoteServer'",
    `LanguageMode = ${psq(c.language ?? 'NoLanguage')}`,
  ];
  // cmdlets and functions share one allow-list; names that are neither simply stay invisible
  if (cmds.length) {
    lines.push(`VisibleCmdlets = ${cmds.map(psq).join(', ')}`);
    lines.push(`VisibleFunctions = ${cmds.map(psq).join(', ')}`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** Registered configurations; restricted ones get a .pssc in a private temp folder (removed by `dispose`). */
export class SessionConfigurations {
  private readonly byName = new Map<string, SessionConfiguration & { pssc?: string }>();
  private dir: string | undefined;
  constructor(configs: SessionConfiguration[] = []) {
    this.byName.set(DEFAULT_CONFIGURATION.toLowerCase(), { name: DEFAULT_CONFIGURATION });
    for (const c of configs) {
      const restricted = c.visibleCommands !== undefined || (c.language !== undefined && c.language !== 'FullLanguage');
      let pssc: string | undefined;
      if (restricted) {
        // read by pwsh running as the logon's account: not secret, writable by the endpoint only
        if (!this.dir) {
          this.dir = mkdtempSync(join(tmpdir(), 'winrm-ts-pssc-'));
          chmodSync(this.dir, 0o755);
        }
        pssc = join(this.dir, `${c.name}.pssc`);
        writeFileSync(pssc, psscText(c), { mode: 0o644 });
      }
      this.byName.set(c.name.toLowerCase(), { ...c, pssc });
    }
  }
  /** The configuration for a resource URI, or undefined when the name is unknown. */
  resolve(resourceUri: string): (SessionConfiguration & { pssc?: string }) | undefined {
    if (!resourceUri.toLowerCase().startsWith(PSRP_URI_PREFIX)) return undefined;
    const name = resourceUri.slice(PSRP_URI_PREFIX.length).replace(/\/+$/, '');
    return this.byName.get(name.toLowerCase());
  }
  names(): string[] {
    return [...this.byName.values()].map((c) => c.name);
  }
  dispose(): void {
    if (this.dir) {
      try {
        rmSync(this.dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
      this.dir = undefined;
    }
  }
}

/** The name in a PowerShell resource URI (for fault text). */
export function configurationName(resourceUri: string): string {
  return resourceUri.startsWith(PSRP_URI_PREFIX) ? resourceUri.slice(PSRP_URI_PREFIX.length) : resourceUri;
}
