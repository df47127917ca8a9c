/**
 * Opt-in OS keyring for the CLI's password (`--keyring`, or `"keyring": true` in a profile / the defaults of the
 * config file): libsecret's `secret-tool` (package libsecret-tools), which talks to the Secret Service over D-Bus
 * (GNOME Keyring, KeePassXC ...). No native module. The password is looked up by the attributes
 * `service winrm-ts user USER` and comes back on the child's stdout: never in argv, never in an environment.
 *
 *   secret-tool store --label='winrm-ts EXAMPLE\alice' service winrm-ts user 'EXAMPLE\alice'   # asks for it once
 */
import { execFile } from 'node:child_process';
import { InvalidArgumentError } from '../errors.js';

export const KEYRING_SERVICE = 'winrm-ts';
/** Secrets of this process that a child never inherits. */
const SECRET_ENV = ['WINRM_PASSWORD', 'WINRM_PROXY_PASSWORD', 'WINRM_CERT_PASSPHRASE', 'WINRM_SSH_PASSPHRASE'];

/** The `secret-tool store` command line that saves USER's password (for messages). */
export function keyringStoreHint(user: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `secret-tool store --label=${q(`winrm-ts ${user}`)} service ${KEYRING_SERVICE} user ${q(user)}`;
}

/**
 * USER's password from the keyring; undefined (with a warning saying how to store one) when it has none or the
 * keyring cannot be reached. `secret-tool` missing altogether is an error: the keyring was asked for explicitly.
 */
export function keyringPassword(
  user: string,
  warn: (m: string) => void = (m) => process.stderr.write(`winrm-ts: warning: ${m}\n`),
  bin = process.env.WINRM_TS_SECRET_TOOL || 'secret-tool',
): Promise<string | undefined> {
  const env = { ...process.env };
  for (const k of SECRET_ENV) delete env[k];
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      ['lookup', 'service', KEYRING_SERVICE, 'user', user],
      { env, timeout: 15_000, encoding: 'utf8', maxBuffer: 64 * 1024 },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(
            new InvalidArgumentError(
              `--keyring: ${bin} is not installed (Debian/Ubuntu: apt-get install libsecret-tools; it needs a Secret Service ` +
                `such as GNOME Keyring on the session D-Bus)`,
            ),
          );
          return;
        }
        if (!err && stdout) {
          resolve(stdout);
          return;
        }
        const why = String(stderr ?? '')
          .trim()
          .split('\n')[0];
        warn(
          why
            ? `the keyring could not be read (${why}): is a Secret Service (GNOME Keyring, KeePassXC) running and unlocked on ` +
                `this session's D-Bus?`
            : `no password for ${user} in the keyring; store one with: ${keyringStoreHint(user)}`,
        );
        resolve(undefined);
      },
    );
  });
}
