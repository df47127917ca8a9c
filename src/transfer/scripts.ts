/**
 * The remote half of copy / fetch: plain PowerShell (Windows PowerShell 5.1 and PowerShell 7, Windows and Unix)
 * run through PSRP, so transfers work wherever PowerShell remoting works — also where WinRS is disabled or a
 * custom session configuration is used. No per-chunk start-up: each transfer is one long-running pipeline whose
 * `process {}` block consumes pipeline input (byte[] chunks and small control records) or answers credits with
 * byte[] output objects.
 *
 * Failures are thrown as `WTX1|<reason>|<path>|<message>` so the client can raise a typed error
 * (src/transfer/errors.ts): not-found, access-denied, disk-full, invalid-name, is-directory, not-a-directory,
 * checksum, changed, io.
 */

/** Suffix of the temporary file a transfer writes before the atomic rename (same directory as the target). */
export const PARTIAL_SUFFIX = '.winrm-ts.part';

/** Helpers shared by every script (no backticks, no `${` — this text lives in TypeScript template literals). */
export const REMOTE_HELPERS = String.raw`
$ErrorActionPreference = 'Stop'
$wtSep = [IO.Path]::DirectorySeparatorChar
$wtUnix = [bool]($IsLinux -or $IsMacOS)
function Resolve-WtPath([string]$p) { $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($p) }
function Get-WtPartName([string]$full) {
  $dir = [IO.Path]::GetDirectoryName($full); $name = [IO.Path]::GetFileName($full)
  if ([string]::IsNullOrEmpty($dir)) { return '.' + $name + '__SUFFIX__' }
  [IO.Path]::Combine($dir, '.' + $name + '__SUFFIX__')
}
function Get-WtReason($e) {
  $x = $e
  if ($x -is [Management.Automation.ErrorRecord]) { $x = $x.Exception }
  while ($null -ne $x.InnerException -and ($x -is [Management.Automation.MethodInvocationException] -or
         $x -is [Management.Automation.RuntimeException] -or $x -is [Reflection.TargetInvocationException])) { $x = $x.InnerException }
  $why = 'io'
  if ($x -is [UnauthorizedAccessException] -or $x -is [Security.SecurityException]) { $why = 'access-denied' }
  elseif ($x -is [IO.FileNotFoundException] -or $x -is [IO.DirectoryNotFoundException] -or
          $x -is [Management.Automation.ItemNotFoundException]) { $why = 'not-found' }
  elseif ($x -is [IO.PathTooLongException] -or $x -is [ArgumentException] -or $x -is [NotSupportedException]) { $why = 'invalid-name' }
  elseif ($x -is [IO.IOException]) {
    $hr = $x.HResult -band 0xFFFF
    if ($hr -eq 112 -or $hr -eq 39 -or $hr -eq 28 -or $hr -eq 122) { $why = 'disk-full' }
    elseif ($hr -eq 123 -or $hr -eq 161 -or $hr -eq 206 -or $hr -eq 36) { $why = 'invalid-name' }
    elseif ($hr -eq 5 -or $hr -eq 13 -or $hr -eq 1 -or $hr -eq 30) { $why = 'access-denied' }
    elseif ($hr -eq 2 -or $hr -eq 3) { $why = 'not-found' }
    elseif ($hr -eq 21) { $why = 'is-directory' }
    elseif ($hr -eq 20 -or $hr -eq 267) { $why = 'not-a-directory' }
  }
  @($why, $x.Message)
}
function Stop-Wt([string]$why, [string]$path, [string]$msg) { throw ('WTX1|' + $why + '|' + $path + '|' + $msg) }
function Stop-WtFrom($e, [string]$path) { $r = Get-WtReason $e; Stop-Wt $r[0] $path $r[1] }
function Get-WtKind([string]$full) {
  if ([IO.Directory]::Exists($full)) { 'dir' } elseif ([IO.File]::Exists($full)) { 'file' } else { 'missing' }
}
function Get-WtHex([byte[]]$h) { [BitConverter]::ToString($h).Replace('-', '').ToLowerInvariant() }
function New-WtHash { [Security.Cryptography.SHA256]::Create() }
function Add-WtHash($algo, [byte[]]$b, [int]$n) { if ($n -gt 0) { $null = $algo.TransformBlock($b, 0, $n, $null, 0) } }
function Complete-WtHash($algo) { $null = $algo.TransformFinalBlock([byte[]]::new(0), 0, 0); Get-WtHex $algo.Hash }
function Get-WtFileHash([string]$path, [long]$limit) {
  $algo = New-WtHash; $buf = [byte[]]::new(1048576); $left = $limit
  $fs = [IO.FileStream]::new($path, [IO.FileMode]::Open, [IO.FileAccess]::Read, [IO.FileShare]'ReadWrite, Delete', 65536)
  try {
    while ($left -ne 0) {
      $want = $buf.Length; if ($left -gt 0 -and $left -lt $want) { $want = [int]$left }
      $n = $fs.Read($buf, 0, $want); if ($n -le 0) { break }
      Add-WtHash $algo $buf $n; if ($left -gt 0) { $left -= $n }
    }
  } finally { $fs.Dispose() }
  Complete-WtHash $algo
}
function Get-WtMode([string]$full) {
  if (-not $wtUnix) { return $null }
  try { [int](Get-Item -LiteralPath $full -Force).UnixFileMode } catch { $null }
}
function Set-WtMode([string]$full, $mode) {
  if (-not $wtUnix -or $null -eq $mode) { return }
  try { [IO.File]::SetUnixFileMode($full, [IO.UnixFileMode][int]$mode) } catch { }
}
function Move-WtFile([string]$from, [string]$to) {
  if ([IO.Directory]::Exists($to)) { Stop-Wt 'is-directory' $to 'the target is a directory' }
  try {
    if ([IO.File].GetMethod('Move', [type[]]@([string], [string], [bool]))) { [IO.File]::Move($from, $to, $true) }
    else { if ([IO.File]::Exists($to)) { [IO.File]::Delete($to) }; [IO.File]::Move($from, $to) }
  } catch { Stop-WtFrom $_ $to }
}
`.replaceAll('__SUFFIX__', PARTIAL_SUFFIX);

/**
 * copy, the first segment's `begin` block (no round trip of its own): where each file goes and what is already
 * there. `$Target` the remote path as given; `$Layout` 'file' (one local file named $Names[0]), 'dir' (one local
 * directory named $Names[0]), 'multi' (several sources: $Target must be a directory), 'stream'; `$Rels` the files'
 * relative paths ('/'-separated, under the source), `$Dirs` the directories to create (relative). Output: one object
 * with the resolved root and, per file, its full path and partial file (length + SHA-256) when one exists.
 */
const PREPARE_BLOCK = String.raw`
if ($null -eq $Rels) { $Rels = @() }
if ($null -eq $Dirs) { $Dirs = @() }
try { $full = Resolve-WtPath $Target } catch { Stop-WtFrom $_ $Target }
$kind = Get-WtKind $full
$slash = $Target.EndsWith('/') -or $Target.EndsWith('\')
$parent = [IO.Path]::GetDirectoryName($full.TrimEnd('/', '\'))
if ($Layout -eq 'multi') {
  if ($kind -eq 'missing') { Stop-Wt 'not-found' $full 'the target directory does not exist' }
  if ($kind -ne 'dir') { Stop-Wt 'not-a-directory' $full 'several sources need a directory as the target' }
  $root = $full
} elseif ($kind -eq 'dir') {
  $root = [IO.Path]::Combine($full, $Names[0])
} else {
  if ($slash) { Stop-Wt 'not-found' $full 'the target directory does not exist' }
  if ($kind -eq 'file' -and $Layout -eq 'dir') { Stop-Wt 'not-a-directory' $full 'the target is a file, the source a directory' }
  if (-not [string]::IsNullOrEmpty($parent) -and -not [IO.Directory]::Exists($parent)) {
    if ([IO.File]::Exists($parent)) { Stop-Wt 'not-a-directory' $parent 'a parent of the target is a file' }
    Stop-Wt 'not-found' $parent 'the parent directory of the target does not exist'
  }
  $root = $full
}
$files = foreach ($rel in $Rels) {
  if ($Layout -eq 'file' -or $Layout -eq 'stream') { $p = $root } else { $p = [IO.Path]::Combine($root, $rel.Replace('/', $wtSep)) }
  try { $p = [IO.Path]::GetFullPath($p) } catch { Stop-WtFrom $_ $p }
  if ([IO.Directory]::Exists($p)) { Stop-Wt 'is-directory' $p 'the target is a directory, the source a file' }
  $part = Get-WtPartName $p
  $plen = [long]-1; $phash = ''
  if ($Resume -and [IO.File]::Exists($part)) {
    try { $plen = (Get-Item -LiteralPath $part -Force).Length; $phash = Get-WtFileHash $part -1 } catch { $plen = -1 }
  }
  [pscustomobject]@{ Path = $p; PartLength = $plen; PartSha256 = $phash }
}
$dirPaths = foreach ($d in $Dirs) { [IO.Path]::Combine($root, $d.Replace('/', $wtSep)) }
[pscustomobject]@{ Root = $root; RootKind = (Get-WtKind $root); Unix = $wtUnix; Files = @($files); Dirs = @($dirPaths) }
`;

/**
 * copy: one pipeline per segment writes the files; the first one (`-Prepare`) starts with the PREPARE_BLOCK answer.
 * The SHA-256 of each file is computed as it is written (a resumed file's prefix is read once when it is reopened;
 * a file continued by the next segment keeps its running hash in the runspace, `$global:WtUploadHashes`). Input
 * records, in order:
 *   @{ op = 'mkdir'; path }                                  create a directory (and parents)
 *   @{ op = 'open'; path; offset; cont }                    (re)open path's partial file at offset (truncating there);
 *                                                           cont: the previous segment paused this file (its hash is kept)
 *   byte[]                                                  the next chunk of the open file; every $AckEvery bytes
 *                                                           (and at close / pause) answered by the [long] total
 *   @{ op = 'close'; sha256; mode }                         compare the SHA-256 of the bytes written, set the mode,
 *                                                           rename the partial file over path; answered by { Path; Sha256 }
 *   @{ op = 'pause' }                                        close the open file without finishing it (segment end)
 */
export const UPLOAD =
  String.raw`
param([long]$AckEvery = 1, [bool]$Prepare, [string]$Target, [string]$Layout, [string[]]$Names, [string[]]$Rels, [string[]]$Dirs,
  [bool]$Resume)
begin {` +
  REMOTE_HELPERS +
  String.raw`
$cur = $null; $total = [long]0; $acked = [long]0
if ($Prepare -or $null -eq $global:WtUploadHashes) { $global:WtUploadHashes = @{} }
if ($Prepare) {` +
  PREPARE_BLOCK +
  String.raw`}
}
process {
  $o = $_
  if ($o -is [byte[]]) {
    if ($null -eq $cur) { Stop-Wt 'io' '' 'a chunk arrived with no open file' }
    try { $cur.Fs.Write($o, 0, $o.Length); $cur.Fs.Flush() } catch { Stop-WtFrom $_ $cur.Path }
    $null = $cur.Algo.TransformBlock($o, 0, $o.Length, $null, 0); $cur.Len += $o.Length
    $total += $o.Length
    if ($total - $acked -ge $AckEvery) { $acked = $total; $total }
    return
  }
  switch ([string]$o.op) {
    'mkdir' {
      $d = [string]$o.path
      if ([IO.File]::Exists($d)) { Stop-Wt 'not-a-directory' $d 'a file is in the way of a directory' }
      try { $null = [IO.Directory]::CreateDirectory($d) } catch { Stop-WtFrom $_ $d }
      if ($null -ne $o.mode) { Set-WtMode $d $o.mode }
    }
    'open' {
      if ($null -ne $cur) { $cur.Fs.Dispose(); $cur = $null }
      $p = [string]$o.path; $part = Get-WtPartName $p
      if ([IO.Directory]::Exists($p)) { Stop-Wt 'is-directory' $p 'the target is a directory, the source a file' }
      try {
        $fs = [IO.FileStream]::new($part, [IO.FileMode]::OpenOrCreate, [IO.FileAccess]::ReadWrite, [IO.FileShare]'ReadWrite, Delete', 4096)
        $off = [long]$o.offset
        if ($fs.Length -lt $off) { $fs.Dispose(); Stop-Wt 'changed' $part 'the partial file is shorter than expected' }
        $kept = $global:WtUploadHashes[$part]; $global:WtUploadHashes.Remove($part)
        if ($o.cont -and $null -ne $kept -and $kept.Len -eq $off) { $algo = $kept.Algo }
        else {
          # a resumed partial file: its prefix is hashed once, here
          $algo = New-WtHash; $buf = [byte[]]::new(1048576); $left = $off
          while ($left -gt 0) {
            $want = $buf.Length; if ($left -lt $want) { $want = [int]$left }
            $n = $fs.Read($buf, 0, $want); if ($n -le 0) { break }
            Add-WtHash $algo $buf $n; $left -= $n
          }
        }
        $fs.SetLength($off); $fs.Position = $off
      } catch { if ("$_".StartsWith('WTX1|')) { throw }; Stop-WtFrom $_ $p }
      $cur = @{ Fs = $fs; Path = $p; Part = $part; Algo = $algo; Len = $off }
    }
    'pause' {
      if ($null -ne $cur) { $cur.Fs.Dispose(); $global:WtUploadHashes[$cur.Part] = @{ Algo = $cur.Algo; Len = $cur.Len }; $cur = $null }
      if ($total -ne $acked) { $acked = $total; $total }
    }
    'close' {
      if ($null -eq $cur) { Stop-Wt 'io' '' 'close with no open file' }
      $cur.Fs.Dispose()
      if ($total -ne $acked) { $acked = $total; $total }
      $p = $cur.Path; $part = $cur.Part; $h = Complete-WtHash $cur.Algo; $cur = $null
      if ($h -ne [string]$o.sha256) {
        try { [IO.File]::Delete($part) } catch { }
        Stop-Wt 'checksum' $p ('remote SHA-256 ' + $h + ', local ' + [string]$o.sha256)
      }
      Set-WtMode $part $o.mode
      Move-WtFile $part $p
      [pscustomobject]@{ Path = $p; Sha256 = $h }
    }
    default { Stop-Wt 'io' '' ('unknown record ' + [string]$o.op) }
  }
}
end { if ($null -ne $cur) { $cur.Fs.Dispose() } }
`;

/**
 * fetch, step 1: what the sources are. Output per source: { Source; Full; Name; Kind = 'file'|'dir'; Entries },
 * Entries = files and directories below a directory: { Rel ('/'-separated); Dir; Length; Mode }.
 */
export const LIST =
  String.raw`
param([string[]]$Paths)
` +
  REMOTE_HELPERS +
  String.raw`
foreach ($src in $Paths) {
  try { $full = Resolve-WtPath $src } catch { Stop-WtFrom $_ $src }
  $kind = Get-WtKind $full
  if ($kind -eq 'missing') { Stop-Wt 'not-found' $full 'the remote path does not exist' }
  $name = [IO.Path]::GetFileName($full.TrimEnd('/', '\'))
  if ($kind -eq 'file') {
    try { $len = (Get-Item -LiteralPath $full -Force).Length } catch { Stop-WtFrom $_ $full }
    [pscustomobject]@{ Source = $src; Full = $full; Name = $name; Kind = 'file'; Length = [long]$len
      Mode = (Get-WtMode $full); Entries = @() }
    continue
  }
  $base = $full.TrimEnd('/', '\').Length + 1
  try {
    $entries = foreach ($i in (Get-ChildItem -LiteralPath $full -Recurse -Force)) {
      $rel = $i.FullName.Substring($base).Replace('\', '/')
      $isDir = $i.PSIsContainer
      $m = $null; if ($wtUnix) { try { $m = [int]$i.UnixFileMode } catch { } }
      $len = [long]0; if (-not $isDir) { $len = [long]$i.Length }
      [pscustomobject]@{ Rel = $rel; Dir = $isDir; Length = $len; Mode = $m }
    }
  } catch { Stop-WtFrom $_ $full }
  [pscustomobject]@{ Source = $src; Full = $full; Name = $name; Kind = 'dir'; Length = [long]0
    Mode = (Get-WtMode $full); Entries = @($entries) }
}
`;

/**
 * fetch, step 2: one pipeline reads the files. Input: @{ path; offset; length; prefix } opens the next file
 * (queued; prefix = SHA-256 of the client's partial file of `offset` bytes, checked here: on a mismatch the file
 * restarts at 0 and a { Restart } object says so); an [int] grants that many chunk credits. Output per credit one
 * byte[] chunk of at most $Chunk bytes; after a file's last chunk { Done = path; Sha256; Length } (SHA-256 of the
 * whole file as read, prefix included).
 */
export const DOWNLOAD =
  String.raw`
param([int]$Chunk)
begin {
` +
  REMOTE_HELPERS +
  String.raw`
  $queue = [Collections.Generic.Queue[object]]::new(); $credit = 0; $cur = $null
  function Open-WtNext {
    $r = $queue.Dequeue(); $p = [string]$r.path
    if ([IO.Directory]::Exists($p)) { Stop-Wt 'is-directory' $p 'the source is a directory' }
    try { $fs = [IO.FileStream]::new($p, [IO.FileMode]::Open, [IO.FileAccess]::Read,
      [IO.FileShare]'ReadWrite, Delete', 65536) } catch { Stop-WtFrom $_ $p }
    $len = [long]$r.length; $off = [long]$r.offset
    if ($fs.Length -ne $len) {
      $fs.Dispose(); Stop-Wt 'changed' $p ('the file changed size (' + $fs.Length + ' bytes, listed ' + $len + ')')
    }
    $algo = New-WtHash; $restart = $false
    if ($off -gt 0) {
      $pre = New-WtHash; $buf = [byte[]]::new(1048576); $left = $off
      while ($left -gt 0) {
        $want = $buf.Length; if ($left -lt $want) { $want = [int]$left }
        $n = $fs.Read($buf, 0, $want); if ($n -le 0) { break }
        Add-WtHash $algo $buf $n; Add-WtHash $pre $buf $n; $left -= $n
      }
      if ($left -ne 0 -or (Complete-WtHash $pre) -ne [string]$r.prefix) { $algo = New-WtHash; $off = 0; $fs.Position = 0; $restart = $true }
    }
    @{ Fs = $fs; Path = $p; Left = $len - $off; Algo = $algo; Length = $len; Restart = $restart }
  }
}
process {
  $o = $_
  if ($o -is [int] -or $o -is [long]) { $credit += [int]$o } else { $queue.Enqueue($o) }
  while ($true) {
    if ($null -eq $cur) {
      if ($queue.Count -eq 0) { break }
      $cur = Open-WtNext
      if ($cur.Restart) { [pscustomobject]@{ Restart = $cur.Path } }
    }
    if ($cur.Left -le 0) {
      $extra = $cur.Fs.ReadByte(); $cur.Fs.Dispose()
      if ($extra -ge 0) { Stop-Wt 'changed' $cur.Path 'the file grew while it was read' }
      [pscustomobject]@{ Done = $cur.Path; Sha256 = (Complete-WtHash $cur.Algo); Length = $cur.Length }
      $cur = $null; continue
    }
    if ($credit -le 0) { break }
    $n = $Chunk; if ($cur.Left -lt $n) { $n = [int]$cur.Left }
    $b = [byte[]]::new($n); $got = 0
    try { while ($got -lt $n) { $r = $cur.Fs.Read($b, $got, $n - $got); if ($r -le 0) { break }; $got += $r } }
    catch { Stop-WtFrom $_ $cur.Path }
    if ($got -lt $n) { Stop-Wt 'changed' $cur.Path 'the file shrank while it was read' }
    Add-WtHash $cur.Algo $b $n
    $cur.Left -= $n; $credit--
    ,$b
  }
}
end { if ($null -ne $cur) { $cur.Fs.Dispose() } }
`;
