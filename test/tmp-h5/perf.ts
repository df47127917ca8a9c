import { Session } from '../../src/client/session.js';
const s = await Session.open({});
await s.invoke('1..100 | % { [pscustomobject]@{ i = $_; s = "x$_" } }');
for (const script of [
  '$sw=[Diagnostics.Stopwatch]::StartNew(); 1..20000 | % { [pscustomobject]@{ i = $_; s = "x$_" } }; "server ms " + $sw.ElapsedMilliseconds',
  '$sw=[Diagnostics.Stopwatch]::StartNew(); $null = 1..20000 | % { [pscustomobject]@{ i = $_; s = "x$_" } }; "server-null ms " + $sw.ElapsedMilliseconds',
  '$sw=[Diagnostics.Stopwatch]::StartNew(); 1..20000; "server ints ms " + $sw.ElapsedMilliseconds',
]) {
  const a = performance.now(); let n = 0; let last: unknown;
  for await (const ev of s.stream(script)) if (ev.type === 'output') { n++; last = ev.value; }
  console.log(n, String(last), 'client ms', Math.round(performance.now() - a));
}
await s.close();
