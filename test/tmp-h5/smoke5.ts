import { Session } from '../../src/client/session.js';
import { toPlain } from '../../src/clixml/index.js';
const s = await Session.open({ host: { ui: {
    readLine: () => 'typed answer',
    readLineAsSecureString: () => 'S3cret!',
    promptForChoice: (_c, _m, choices, def) => { console.log('choice'); return 2; },
    promptForCredential: (_c, _m, user) => { console.log('cred'); return ({ userName: user || 'EXAMPLE\\bob', password: 'Cr3d!' }); },
    prompt: (_c, _m, fields) => { console.log('prompt', fields.map(f => f.name)); return Object.fromEntries(fields.map((f) => [f.name, `field-${f.name}`])); },
    rawUI: { windowTitle: 'winrm-ts test', bufferSize: { width: 100, height: 200 } },
} } });
const show = (r: any) => console.log(JSON.stringify({ out: r.output.map((x: any) => toPlain(x)), err: r.streams.error.map(String), had: r.hadErrors, st: r.state }));
show(await s.invoke(process.argv[2]!));
await s.close();
