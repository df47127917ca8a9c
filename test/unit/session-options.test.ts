// SessionOptions is a union keyed on `transport`: the type-level cases below are checked by `npm run typecheck`
// (tsc compiles test/), the runtime cases by the test runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, InvalidArgumentError, type SessionOptions } from '../../src/index.js';

// Never called: only compiled. Each @ts-expect-error fails the typecheck if the line below it compiles.
export function typeLevelCases(): SessionOptions[] {
  return [
    { transport: 'process', pwsh: '/usr/bin/pwsh' },
    {},
    { transport: 'wsman', computerName: 'win1', username: 'EXAMPLE\\alice', auth: 'negotiate' },
    { transport: 'ssh', computerName: 'srv:22', username: 'alice', privateKeyPath: '/home/alice/.ssh/id_ed25519' },
    {
      transport: () => {
        throw new Error('a factory');
      },
    },
    // @ts-expect-error a misspelt transport name
    { transport: 'wsmna', computerName: 'win1' },
    // @ts-expect-error an option of another transport (computerName is not a 'process' option)
    { transport: 'process', computerName: 'win1' },
    // @ts-expect-error an unknown option
    { transport: 'ssh', computerName: 'srv', pasword: 'x' },
  ];
}

test(
  'Session.open: a transport name that is not known (only possible through a cast) is an InvalidArgumentError naming the known ' + 'ones',
  async () => {
    await assert.rejects(Session.open({ transport: 'wsmna' } as unknown as SessionOptions), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.match((e as Error).message, /unknown session transport "wsmna".*'process', 'wsman', 'ssh'/);
      return true;
    });
  },
);

test('Session.open: a transport factory receives the options and its transport is used', async () => {
  const boom = new InvalidArgumentError('factory called');
  let seen: unknown;
  await assert.rejects(
    Session.open({
      transport: (o) => {
        seen = o.maxRunspaces;
        throw boom;
      },
      maxRunspaces: 3,
    }),
    (e) => e === boom,
  );
  assert.equal(seen, 3);
});
