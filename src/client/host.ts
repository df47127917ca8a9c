/**
 * Pluggable PowerShell host for sessions: the client side of the PSHost / PSHostUserInterface / RawUI method table
 * (MS-PSRP 2.2.3.17). A `PSHostHandler` answers host calls with plain JS values; `answerHostCall` turns the answer
 * into the exact .NET type the server expects. Methods a handler leaves out fail on the server the way a
 * non-interactive host does ("the host does not support ...").
 */
import { PSObject, PSPrimitive, PSSecureString, ps, type ClixmlValue, type PSValue } from '../clixml/index.js';
import type { HostCall } from '../psrp/events.js';
import { hostMethod } from '../psrp/host-methods.js';
import type { HostDefaultData } from '../psrp/messages.js';

/** MS-PSRP 2.2.3.19 FieldDescription (Read-Host -Prompt with fields, $host.UI.Prompt). */
export interface PromptField {
  name: string;
  label: string;
  parameterType: string;
  helpMessage: string;
  isMandatory: boolean;
  defaultValue: ClixmlValue;
}
/** MS-PSRP 2.2.3.20 ChoiceDescription. */
export interface PromptChoice {
  label: string;
  helpMessage: string;
}
export interface CredentialAnswer {
  userName: string;
  password: string;
}

export interface PSHostUI {
  /** Read-Host */
  readLine?(): string | Promise<string>;
  /** Read-Host -AsSecureString: return the plaintext; it is sent encrypted with the session key */
  readLineAsSecureString?(): string | Promise<string>;
  write?(text: string, colors?: { foreground?: number; background?: number }): void;
  writeLine?(text: string, colors?: { foreground?: number; background?: number }): void;
  writeErrorLine?(text: string): void;
  writeDebugLine?(text: string): void;
  writeVerboseLine?(text: string): void;
  writeWarningLine?(text: string): void;
  writeProgress?(sourceId: bigint, record: ClixmlValue): void;
  /** $host.UI.Prompt / Read-Host with a -Prompt on mandatory parameters: field name -> value */
  prompt?(caption: string, message: string, fields: PromptField[]): Record<string, PSValue> | Promise<Record<string, PSValue>>;
  /** Get-Credential */
  promptForCredential?(
    caption: string,
    message: string,
    userName: string,
    targetName: string,
  ): CredentialAnswer | Promise<CredentialAnswer>;
  /** $host.UI.PromptForChoice: the index of the chosen option */
  promptForChoice?(caption: string, message: string, choices: PromptChoice[], defaultChoice: number): number | Promise<number>;
  promptForChoiceMultipleSelection?(
    caption: string,
    message: string,
    choices: PromptChoice[],
    defaultChoices: number[],
  ): number[] | Promise<number[]>;
  /** $host.UI.RawUI values (also sent as the host's default data when the session opens) */
  rawUI?: HostDefaultData & { keyAvailable?: boolean };
}

export interface PSHostHandler {
  ui?: PSHostUI;
  /** exit requested by the script ($host.SetShouldExit) */
  setShouldExit?(exitCode: number): void;
  /** called for any other method (returns the .NET-typed value or throws) */
  other?(call: HostCall): PSValue | Promise<PSValue>;
}

export class HostMethodNotSupported extends Error {
  constructor(method: string) {
    super(`the host does not support ${method}: run the session with a host that implements it`);
  }
}

const str = (v: ClixmlValue | undefined): string =>
  v === null || v === undefined ? '' : typeof v === 'string' ? v : String(v instanceof PSPrimitive ? v.value : v);
const num = (v: ClixmlValue | undefined): number =>
  typeof v === 'number'
    ? v
    : v instanceof PSPrimitive
      ? Number(v.value)
      : v instanceof PSObject && v.value !== undefined
        ? num(v.value as ClixmlValue)
        : 0;
function items(v: ClixmlValue | undefined): ClixmlValue[] {
  if (v instanceof PSObject && v.collection && 'items' in v.collection) return v.collection.items as ClixmlValue[];
  return [];
}
function prop(o: ClixmlValue, name: string): ClixmlValue | undefined {
  return o instanceof PSObject ? (o.get(name) as ClixmlValue | undefined) : undefined;
}

const COLLECTION_INT = [
  'System.Collections.ObjectModel.Collection`1[[System.Int32, System.Private.CoreLib, Version=4.0.0.0, ' +
    'Culture=neutral, PublicKeyToken=7cec85d7bea7798e]]',
  'System.Object',
];
const DICT_PSOBJECT = [
  'System.Collections.Generic.Dictionary`2[[System.String, System.Private.CoreLib, Version=4.0.0.0, Culture=neutral, ' +
    'PublicKeyToken=7cec85d7bea7798e],[System.Management.Automation.PSObject, System.Management.Automation, ' +
    'Version=7.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35]]',
  'System.Object',
];

/** A PSCredential value (MS-PSRP 2.2.3.25) as a host answer or a command argument. */
export function psCredential(userName: string, password: string): PSObject {
  return new PSObject({
    typeNames: ['System.Management.Automation.PSCredential', 'System.Object'],
    adapted: [
      ['UserName', userName],
      ['Password', new PSPrimitive('SS', PSSecureString.fromPlaintext(password))],
    ],
  });
}

/**
 * Run a host call against a handler. Resolves to `undefined` for void methods, to `{ value }` for answers, or to
 * `{ error }` (a message) when the handler does not implement the method or threw.
 */
export async function answerHostCall(
  host: PSHostHandler | undefined,
  call: HostCall,
): Promise<{ value: PSValue } | { error: string } | undefined> {
  const info = hostMethod(call.methodId);
  const p = call.params;
  const ui = host?.ui;
  const colors = (fg: ClixmlValue | undefined, bg: ClixmlValue | undefined) => ({ foreground: num(fg), background: num(bg) });
  const need = <T>(f: T | undefined): T => {
    if (!f) throw new HostMethodNotSupported(info.name);
    return f;
  };
  try {
    switch (info.name) {
      case 'Write1':
        ui?.write?.(str(p[0]));
        break;
      case 'Write2':
        ui?.write?.(str(p[2]), colors(p[0], p[1]));
        break;
      case 'WriteLine1':
        ui?.writeLine?.('');
        break;
      case 'WriteLine2':
        ui?.writeLine?.(str(p[0]));
        break;
      case 'WriteLine3':
        ui?.writeLine?.(str(p[2]), colors(p[0], p[1]));
        break;
      case 'WriteErrorLine':
        ui?.writeErrorLine?.(str(p[0]));
        break;
      case 'WriteDebugLine':
        ui?.writeDebugLine?.(str(p[0]));
        break;
      case 'WriteVerboseLine':
        ui?.writeVerboseLine?.(str(p[0]));
        break;
      case 'WriteWarningLine':
        ui?.writeWarningLine?.(str(p[0]));
        break;
      case 'WriteProgress':
        ui?.writeProgress?.(p[0] instanceof PSPrimitive ? BigInt(p[0].value as bigint) : BigInt(num(p[0])), p[1] ?? null);
        break;
      case 'SetShouldExit':
        host?.setShouldExit?.(num(p[0]));
        break;
      case 'ReadLine':
        return { value: String(await need(ui?.readLine)()) };
      case 'ReadLineAsSecureString':
        return { value: new PSPrimitive('SS', PSSecureString.fromPlaintext(String(await need(ui?.readLineAsSecureString)()))) };
      case 'Prompt': {
        const fields: PromptField[] = items(p[2]).map((f) => ({
          name: str(prop(f, 'name')),
          label: str(prop(f, 'label')),
          parameterType: str(prop(f, 'parameterTypeFullName') ?? prop(f, 'parameterTypeName')),
          helpMessage: str(prop(f, 'helpMessage')),
          isMandatory: prop(f, 'isMandatory') === true,
          defaultValue: prop(f, 'defaultValue') ?? null,
        }));
        const ans = ui?.prompt ? await ui.prompt(str(p[0]), str(p[1]), fields) : await promptByLines(ui, fields, info.name);
        return { value: PSObject.dict(Object.entries(ans), DICT_PSOBJECT) };
      }
      case 'PromptForCredential1':
      case 'PromptForCredential2': {
        const c = await need(ui?.promptForCredential)(str(p[0]), str(p[1]), str(p[2]), str(p[3]));
        return { value: psCredential(c.userName, c.password) };
      }
      case 'PromptForChoice': {
        const choices = items(p[2]).map((c) => ({ label: str(prop(c, 'label')), helpMessage: str(prop(c, 'helpMessage')) }));
        return { value: ps.int32(await need(ui?.promptForChoice)(str(p[0]), str(p[1]), choices, num(p[3]))) };
      }
      case 'PromptForChoiceMultipleSelection': {
        const choices = items(p[2]).map((c) => ({ label: str(prop(c, 'label')), helpMessage: str(prop(c, 'helpMessage')) }));
        const r = await need(ui?.promptForChoiceMultipleSelection)(str(p[0]), str(p[1]), choices, items(p[3]).map(num));
        return {
          value: PSObject.list(
            r.map((i) => ps.int32(i)),
            COLLECTION_INT,
          ),
        };
      }
      case 'GetForegroundColor':
        return { value: ps.int32(need(ui?.rawUI).foregroundColor ?? 7) };
      case 'GetBackgroundColor':
        return { value: ps.int32(need(ui?.rawUI).backgroundColor ?? 0) };
      case 'GetCursorPosition':
      case 'GetWindowPosition': {
        const r = need(ui?.rawUI);
        const c = (info.name === 'GetCursorPosition' ? r.cursorPosition : r.windowPosition) ?? { x: 0, y: 0 };
        return {
          value: new PSObject({
            extended: [
              ['x', ps.int32(c.x)],
              ['y', ps.int32(c.y)],
            ],
          }),
        };
      }
      case 'GetCursorSize':
        return { value: ps.int32(need(ui?.rawUI).cursorSize ?? 25) };
      case 'GetBufferSize':
      case 'GetWindowSize':
      case 'GetMaxWindowSize':
      case 'GetMaxPhysicalWindowSize': {
        const r = need(ui?.rawUI);
        const s = {
          GetBufferSize: r.bufferSize,
          GetWindowSize: r.windowSize,
          GetMaxWindowSize: r.maxWindowSize,
          GetMaxPhysicalWindowSize: r.maxPhysicalWindowSize,
        }[info.name] ?? { width: 120, height: 50 };
        return {
          value: new PSObject({
            extended: [
              ['width', ps.int32(s.width)],
              ['height', ps.int32(s.height)],
            ],
          }),
        };
      }
      case 'GetWindowTitle':
        return { value: need(ui?.rawUI).windowTitle ?? '' };
      case 'GetKeyAvailable':
        return { value: need(ui?.rawUI).keyAvailable ?? false };
      case 'SetForegroundColor':
      case 'SetBackgroundColor':
      case 'SetCursorPosition':
      case 'SetWindowPosition':
      case 'SetCursorSize':
      case 'SetBufferSize':
      case 'SetWindowSize':
      case 'SetWindowTitle': {
        const r = ui?.rawUI;
        if (r) {
          const v = p[0] ?? null;
          if (info.name === 'SetForegroundColor') r.foregroundColor = num(v);
          else if (info.name === 'SetBackgroundColor') r.backgroundColor = num(v);
          else if (info.name === 'SetWindowTitle') r.windowTitle = str(v);
          else if (info.name === 'SetCursorSize') r.cursorSize = num(v);
        }
        break;
      }
      default:
        if (info.returns === 'void' && !host?.other) break;
        return { value: await need(host?.other)(call) };
    }
    return info.returns === 'void' ? undefined : { error: new HostMethodNotSupported(info.name).message };
  } catch (e) {
    return { error: (e as Error)?.message ?? String(e) };
  }
}

/** Prompt without a `prompt` handler: one readLine (or secure read / credential prompt) per field, as a console host does. */
async function promptByLines(ui: PSHostUI | undefined, fields: PromptField[], method: string): Promise<Record<string, PSValue>> {
  const out: Record<string, PSValue> = {};
  for (const f of fields) {
    const t = f.parameterType;
    if (/SecureString$/.test(t)) {
      if (!ui?.readLineAsSecureString) throw new HostMethodNotSupported(method);
      ui.write?.(`${f.label || f.name}: `);
      out[f.name] = new PSPrimitive('SS', PSSecureString.fromPlaintext(String(await ui.readLineAsSecureString())));
    } else if (/PSCredential$/.test(t)) {
      if (!ui?.promptForCredential) throw new HostMethodNotSupported(method);
      const c = await ui.promptForCredential('', f.label || f.name, '', '');
      out[f.name] = psCredential(c.userName, c.password);
    } else {
      if (!ui?.readLine) throw new HostMethodNotSupported(method);
      ui.write?.(f.label || f.name ? `${f.label || f.name}: ` : '');
      out[f.name] = String(await ui.readLine());
    }
  }
  return out;
}

/** A host that answers nothing interactive (Read-Host etc. fail in the script) and drops UI writes. */
export const nonInteractiveHost: PSHostHandler = {};
