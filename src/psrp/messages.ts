/**
 * PSRP message bodies (MS-PSRP 2.2.2.x), built and read with the CLIXML layer. Every body is one `<Obj>`.
 */
import { LocalProtocolError, RemoteProtocolError } from '../errors.js';
import { PSObject, PSPrimitive, PSList, PSDict, ps, type PSValue, type ClixmlValue } from '../clixml/index.js';

export const TN_ENUM = ['System.Enum', 'System.ValueType', 'System.Object'];
const enumObj = (type: string, name: string, value: number) => PSObject.enum(type, name, value);
const LIST_PSOBJECT = [
  'System.Collections.Generic.List`1[[System.Management.Automation.PSObject, System.Management.Automation, Version=1.0.0.0, ' +
    'Culture=neutral, PublicKeyToken=31bf3856ad364e35]]',
  'System.Object',
];

/** MS-PSRP 2.2.2.1 SESSION_CAPABILITY. */
export function sessionCapability(protocolVersion = '2.3'): PSObject {
  return new PSObject({
    extended: [
      ['protocolversion', ps.version(protocolVersion)],
      ['PSVersion', ps.version('2.0')],
      ['SerializationVersion', ps.version('1.1.0.1')],
    ],
  });
}

/** MS-PSRP 2.2.3.14 HostDefaultData (the RawUI values the server host starts with). */
export interface HostDefaultData {
  foregroundColor?: number;
  backgroundColor?: number;
  cursorPosition?: { x: number; y: number };
  windowPosition?: { x: number; y: number };
  cursorSize?: number;
  bufferSize?: { width: number; height: number };
  windowSize?: { width: number; height: number };
  maxWindowSize?: { width: number; height: number };
  maxPhysicalWindowSize?: { width: number; height: number };
  windowTitle?: string;
}

/** MS-PSRP 2.2.3.14 HostInfo: which parts of a host the client provides. */
export interface HostInfoSpec {
  /** false: no host at all (host calls fail on the server) */
  isHostNull: boolean;
  isHostUINull: boolean;
  isHostRawUINull: boolean;
  useRunspaceHost: boolean;
  defaultData?: HostDefaultData;
}

export const NULL_HOST_INFO: HostInfoSpec = { isHostNull: true, isHostUINull: true, isHostRawUINull: true, useRunspaceHost: true };

function coordinates(c: { x: number; y: number }): PSObject {
  return new PSObject({
    extended: [
      ['x', ps.int32(c.x)],
      ['y', ps.int32(c.y)],
    ],
  });
}
function size(s: { width: number; height: number }): PSObject {
  return new PSObject({
    extended: [
      ['width', ps.int32(s.width)],
      ['height', ps.int32(s.height)],
    ],
  });
}

/** MS-PSRP 2.2.3.14 HostInfo object. */
export function hostInfo(h: HostInfoSpec): PSObject {
  const ext: Array<[string, PSValue]> = [];
  if (!h.isHostRawUINull && h.defaultData) {
    const d = h.defaultData;
    const entries: Array<[PSValue, PSValue]> = [];
    const add = (key: number, type: string, v: PSValue) =>
      entries.push([
        ps.int32(key),
        new PSObject({
          extended: [
            ['T', type],
            ['V', v],
          ],
        }),
      ]);
    add(0, 'System.ConsoleColor', ps.int32(d.foregroundColor ?? 7));
    add(1, 'System.ConsoleColor', ps.int32(d.backgroundColor ?? 0));
    add(2, 'System.Management.Automation.Host.Coordinates', coordinates(d.cursorPosition ?? { x: 0, y: 0 }));
    add(3, 'System.Management.Automation.Host.Coordinates', coordinates(d.windowPosition ?? { x: 0, y: 0 }));
    add(4, 'System.Int32', ps.int32(d.cursorSize ?? 25));
    add(5, 'System.Management.Automation.Host.Size', size(d.bufferSize ?? { width: 120, height: 3000 }));
    add(6, 'System.Management.Automation.Host.Size', size(d.windowSize ?? { width: 120, height: 50 }));
    add(7, 'System.Management.Automation.Host.Size', size(d.maxWindowSize ?? { width: 120, height: 50 }));
    add(8, 'System.Management.Automation.Host.Size', size(d.maxPhysicalWindowSize ?? { width: 120, height: 50 }));
    add(9, 'System.String', d.windowTitle ?? 'winrm-ts');
    ext.push(['_hostDefaultData', new PSObject({ extended: [['data', PSObject.dict(entries)]] })]);
  }
  ext.push(
    ['_isHostNull', h.isHostNull],
    ['_isHostUINull', h.isHostUINull],
    ['_isHostRawUINull', h.isHostRawUINull],
    ['_useRunspaceHost', h.useRunspaceHost],
  );
  return new PSObject({ extended: ext });
}

/** MS-PSRP 2.2.2.2 INIT_RUNSPACEPOOL. */
export function initRunspacePool(o: {
  minRunspaces: number;
  maxRunspaces: number;
  host: HostInfoSpec;
  applicationArguments?: Record<string, PSValue> | null;
}): PSObject {
  return new PSObject({
    extended: [
      ['MinRunspaces', ps.int32(o.minRunspaces)],
      ['MaxRunspaces', ps.int32(o.maxRunspaces)],
      ['PSThreadOptions', enumObj('System.Management.Automation.Runspaces.PSThreadOptions', 'Default', 0)],
      ['ApartmentState', enumObj('System.Management.Automation.Runspaces.ApartmentState', 'UNKNOWN', 2)],
      ['HostInfo', hostInfo(o.host)],
      [
        'ApplicationArguments',
        o.applicationArguments
          ? PSObject.dict(Object.entries(o.applicationArguments), [
              'System.Management.Automation.PSPrimitiveDictionary',
              'System.Collections.Hashtable',
              'System.Object',
            ])
          : null,
      ],
    ],
  });
}

/** MS-PSRP 2.2.2.3 PUBLIC_KEY. */
export function publicKey(blobBase64: string): PSObject {
  return new PSObject({ extended: [['PublicKey', blobBase64]] });
}

/** MS-PSRP 2.2.3.31 PipelineResultTypes. */
export enum PipelineResultTypes {
  None = 0,
  Output = 1,
  Error = 2,
  Warning = 3,
  Verbose = 4,
  Debug = 5,
  Information = 6,
  All = 7,
  Null = 8,
}

/** One argument of a command (MS-PSRP 2.2.3.13): named (`name`), positional (`name` null) or a switch (`value` undefined). */
export interface CommandArgument {
  name?: string | null;
  value?: PSValue;
}

/** MS-PSRP 2.2.3.12 Command. */
export interface CommandSpec {
  /** command name, or script text when `isScript` */
  cmd: string;
  isScript?: boolean;
  useLocalScope?: boolean | null;
  args?: CommandArgument[];
  /** merge these streams into this command's output (`2>&1` style) */
  mergeToOutput?: Partial<Record<'error' | 'warning' | 'verbose' | 'debug' | 'information', boolean>>;
}

/** MS-PSRP 2.2.3.11 PowerShell pipeline: statements, each a chain of commands. */
export interface PipelineSpec {
  statements: CommandSpec[][];
  noInput?: boolean;
  addToHistory?: boolean;
  isNested?: boolean;
  /**
   * Write a statement's terminating error (command not found, a thrown error) to the error stream and go on
   * with the next statement, as a script does in a console. Default true: PowerShell's own client (the
   * PowerShell class behind Invoke-Command) sends true; false stops the pipeline at the first such error.
   */
  redirectShellErrorOutputPipe?: boolean;
  host?: HostInfoSpec;
  /** MS-PSRP 2.2.3.30 RemoteStreamOptions (default 15 AddInvocationInfo) */
  remoteStreamOptions?: number;
}

function resultType(v: PipelineResultTypes): PSObject {
  return enumObj('System.Management.Automation.Runspaces.PipelineResultTypes', PipelineResultTypes[v], v);
}

function command(c: CommandSpec): PSObject {
  const m = c.mergeToOutput ?? {};
  const mergeError = !!m.error;
  const args = (c.args ?? []).map(
    (a) =>
      new PSObject({
        extended: [
          ['N', a.name ?? null],
          ['V', a.value === undefined ? null : a.value],
        ],
      }),
  );
  return new PSObject({
    extended: [
      ['Cmd', c.cmd],
      ['IsScript', !!c.isScript],
      ['UseLocalScope', c.useLocalScope ?? null],
      ['MergeMyResult', resultType(mergeError ? PipelineResultTypes.Error : PipelineResultTypes.None)],
      ['MergeToResult', resultType(mergeError ? PipelineResultTypes.Output : PipelineResultTypes.None)],
      ['MergePreviousResults', resultType(PipelineResultTypes.None)],
      ['Args', PSObject.list(args, LIST_PSOBJECT)],
      ['MergeError', resultType(m.error ? PipelineResultTypes.Output : PipelineResultTypes.None)],
      ['MergeWarning', resultType(m.warning ? PipelineResultTypes.Output : PipelineResultTypes.None)],
      ['MergeVerbose', resultType(m.verbose ? PipelineResultTypes.Output : PipelineResultTypes.None)],
      ['MergeDebug', resultType(m.debug ? PipelineResultTypes.Output : PipelineResultTypes.None)],
      ['MergeInformation', resultType(m.information ? PipelineResultTypes.Output : PipelineResultTypes.None)],
    ],
  });
}

/** MS-PSRP 2.2.2.10 CREATE_PIPELINE. */
export function createPipeline(p: PipelineSpec): PSObject {
  if (!p.statements.length || p.statements.some((s) => !s.length))
    throw new LocalProtocolError('a pipeline needs at least one command in every statement');
  const [first, ...rest] = p.statements;
  const extra = rest.length
    ? PSObject.list(
        p.statements.map((s) => new PSObject({ extended: [['Cmds', PSObject.list(s.map(command), LIST_PSOBJECT)]] })),
        LIST_PSOBJECT,
      )
    : null;
  const power = new PSObject({
    extended: [
      ['IsNested', !!p.isNested],
      ['ExtraCmds', extra],
      ['Cmds', PSObject.list(first!.map(command), LIST_PSOBJECT)],
      ['History', null],
      ['RedirectShellErrorOutputPipe', p.redirectShellErrorOutputPipe ?? true],
    ],
  });
  return new PSObject({
    extended: [
      ['NoInput', p.noInput ?? true],
      ['ApartmentState', enumObj('System.Management.Automation.Runspaces.ApartmentState', 'UNKNOWN', 2)],
      [
        'RemoteStreamOptions',
        enumObj('System.Management.Automation.Runspaces.RemoteStreamOptions', 'AddInvocationInfo', p.remoteStreamOptions ?? 15),
      ],
      ['AddToHistory', !!p.addToHistory],
      ['HostInfo', hostInfo(p.host ?? NULL_HOST_INFO)],
      ['PowerShell', power],
      ['IsNested', !!p.isNested],
    ],
  });
}

/** MS-PSRP 2.2.2.27 / 2.2.2.16 host response body. */
export function hostResponse(
  ci: bigint,
  methodId: number,
  methodName: string,
  result: { value?: PSValue; error?: PSValue; hasValue: boolean },
): PSObject {
  const ext: Array<[string, PSValue]> = [
    ['ci', ps.int64(ci)],
    ['mi', enumObj('System.Management.Automation.Remoting.RemoteHostMethodId', methodName, methodId)],
  ];
  if (result.error !== undefined) ext.push(['me', result.error]);
  else if (result.hasValue) ext.push(['mr', result.value ?? null]);
  return new PSObject({ extended: ext });
}

// ---------------------------------------------------------------- readers

function bad(what: string, why: string): never {
  throw new RemoteProtocolError(`malformed ${what} message: ${why}`);
}
/** The body as an object with properties. */
export function asObject(v: ClixmlValue, what: string): PSObject {
  if (!(v instanceof PSObject)) bad(what, 'the body is not an object');
  return v as PSObject;
}
/** An integer from an I32/I64/enum value. */
export function intOf(v: PSValue | undefined, what: string, field: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (v instanceof PSPrimitive && (typeof v.value === 'number' || typeof v.value === 'bigint')) return Number(v.value);
  if (v instanceof PSObject && v.value !== undefined) return intOf(v.value, what, field);
  return bad(what, `${field} is not an integer`);
}
export function bigintOf(v: PSValue | undefined, what: string, field: string): bigint {
  if (v instanceof PSPrimitive && typeof v.value === 'bigint') return v.value;
  return BigInt(intOf(v, what, field));
}
export function listItems(v: PSValue | undefined): PSValue[] {
  if (v instanceof PSObject && v.collection instanceof PSList) return v.collection.items;
  if (Array.isArray(v)) return v;
  return [];
}
export function dictOf(v: PSValue | undefined): PSDict | undefined {
  return v instanceof PSObject && v.collection instanceof PSDict ? v.collection : undefined;
}
export function stringOf(v: PSValue | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof PSPrimitive && typeof v.value === 'string') return v.value;
  return undefined;
}

/**
 * An ErrorRecord in the shape PowerShell's ErrorRecord.FromPSObjectForRemoting reads (MS-PSRP 2.2.3.15):
 * used for a host method's exception (`me`). Every property it requires is present.
 */
export function errorRecordForRemoting(message: string, fullyQualifiedErrorId = 'RemoteHostExecutionException'): PSObject {
  const exception = new PSObject({
    typeNames: ['System.Management.Automation.Host.HostException', 'System.Exception', 'System.Object'],
    toStringValue: message,
    adapted: [
      ['Message', message],
      ['Data', null],
      ['InnerException', null],
      ['HResult', ps.int32(-2146233087)],
    ],
  });
  return new PSObject({
    typeNames: ['System.Management.Automation.ErrorRecord', 'System.Object'],
    toStringValue: message,
    extended: [
      ['Exception', exception],
      ['TargetObject', null],
      ['FullyQualifiedErrorId', fullyQualifiedErrorId],
      ['InvocationInfo', null],
      ['ErrorCategory_Category', ps.int32(0)],
      ['ErrorCategory_Activity', ''],
      ['ErrorCategory_Reason', 'HostException'],
      ['ErrorCategory_TargetName', ''],
      ['ErrorCategory_TargetType', ''],
      ['ErrorCategory_Message', `NotSpecified: (:) [], HostException`],
      ['ErrorDetails_Message', message],
      ['SerializeExtendedInfo', false],
    ],
  });
}
