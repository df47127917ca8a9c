/**
 * MS-PSRP 2.2.3.17 Host Method Identifier: the PSHost / PSHostUserInterface / PSHostRawUserInterface method table.
 * `returns` says what a response carries ('void' = the server expects no response).
 */
export type HostReturnKind =
  | 'void'
  | 'string'
  | 'securestring'
  | 'int32'
  | 'int32-list'
  | 'bool'
  | 'guid'
  | 'version'
  | 'culture'
  | 'credential'
  | 'prompt-dictionary'
  | 'color'
  | 'coordinates'
  | 'size'
  | 'keyinfo'
  | 'buffercells'
  | 'runspace';

export interface HostMethodInfo {
  id: number;
  name: string;
  returns: HostReturnKind;
}

const T: Array<[number, string, HostReturnKind]> = [
  [1, 'GetName', 'string'],
  [2, 'GetVersion', 'version'],
  [3, 'GetInstanceId', 'guid'],
  [4, 'GetCurrentCulture', 'culture'],
  [5, 'GetCurrentUICulture', 'culture'],
  [6, 'SetShouldExit', 'void'],
  [7, 'EnterNestedPrompt', 'void'],
  [8, 'ExitNestedPrompt', 'void'],
  [9, 'NotifyBeginApplication', 'void'],
  [10, 'NotifyEndApplication', 'void'],
  [11, 'ReadLine', 'string'],
  [12, 'ReadLineAsSecureString', 'securestring'],
  [13, 'Write1', 'void'],
  [14, 'Write2', 'void'],
  [15, 'WriteLine1', 'void'],
  [16, 'WriteLine2', 'void'],
  [17, 'WriteLine3', 'void'],
  [18, 'WriteErrorLine', 'void'],
  [19, 'WriteDebugLine', 'void'],
  [20, 'WriteProgress', 'void'],
  [21, 'WriteVerboseLine', 'void'],
  [22, 'WriteWarningLine', 'void'],
  [23, 'Prompt', 'prompt-dictionary'],
  [24, 'PromptForCredential1', 'credential'],
  [25, 'PromptForCredential2', 'credential'],
  [26, 'PromptForChoice', 'int32'],
  [27, 'GetForegroundColor', 'color'],
  [28, 'SetForegroundColor', 'void'],
  [29, 'GetBackgroundColor', 'color'],
  [30, 'SetBackgroundColor', 'void'],
  [31, 'GetCursorPosition', 'coordinates'],
  [32, 'SetCursorPosition', 'void'],
  [33, 'GetWindowPosition', 'coordinates'],
  [34, 'SetWindowPosition', 'void'],
  [35, 'GetCursorSize', 'int32'],
  [36, 'SetCursorSize', 'void'],
  [37, 'GetBufferSize', 'size'],
  [38, 'SetBufferSize', 'void'],
  [39, 'GetWindowSize', 'size'],
  [40, 'SetWindowSize', 'void'],
  [41, 'GetWindowTitle', 'string'],
  [42, 'SetWindowTitle', 'void'],
  [43, 'GetMaxWindowSize', 'size'],
  [44, 'GetMaxPhysicalWindowSize', 'size'],
  [45, 'GetKeyAvailable', 'bool'],
  [46, 'ReadKey', 'keyinfo'],
  [47, 'FlushInputBuffer', 'void'],
  [48, 'SetBufferContents1', 'void'],
  [49, 'SetBufferContents2', 'void'],
  [50, 'GetBufferContents', 'buffercells'],
  [51, 'ScrollBufferContents', 'void'],
  [52, 'PushRunspace', 'void'],
  [53, 'PopRunspace', 'void'],
  [54, 'GetIsRunspacePushed', 'bool'],
  [55, 'GetRunspace', 'runspace'],
  [56, 'PromptForChoiceMultipleSelection', 'int32-list'],
];

export const HOST_METHODS: ReadonlyMap<number, HostMethodInfo> = new Map(T.map(([id, name, returns]) => [id, { id, name, returns }]));

/** MS-PSRP 2.2.3.17: look a method up by id. */
export function hostMethod(id: number): HostMethodInfo {
  return HOST_METHODS.get(id) ?? { id, name: `Unknown${id}`, returns: 'void' };
}

/** MS-PSRP 2.2.3.3 ConsoleColor. */
export const CONSOLE_COLORS = [
  'Black',
  'DarkBlue',
  'DarkGreen',
  'DarkCyan',
  'DarkRed',
  'DarkMagenta',
  'DarkYellow',
  'Gray',
  'DarkGray',
  'Blue',
  'Green',
  'Cyan',
  'Red',
  'Magenta',
  'Yellow',
  'White',
] as const;
