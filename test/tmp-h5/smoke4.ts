import { Session } from '../../src/client/session.js';
import { toPlain } from '../../src/clixml/index.js';
const s = await Session.open({ host: { ui: { readLine: () => 'typed', prompt: (_c, _m, fields) => { console.log('fields', fields); return Object.fromEntries(fields.map((f) => [f.name, `field-${f.name}`])); }, promptForChoice: () => 2 } } });
const show = (r: any) => console.log(JSON.stringify({ out: r.output.map((x: any) => toPlain(x)), err: r.streams.error.map(String), had: r.hadErrors, st: r.state }));
show(await s.invoke(process.argv[2]!));
await s.close();
