/**
 * Which proxy a target uses: explicit URL vs the environment, curl's precedence (lower case first, empty = unset,
 * https_proxy for https:// targets, http_proxy for http://, all_proxy as the fallback) and NO_PROXY matching
 * (curl's rules: `*`, domain suffixes on label boundaries, exact IPs, CIDR prefixes, optional ports).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError, noProxyMatches, parseJumpHost, parseProxyUrl, proxyFor } from '../../src/index.js';

const T = (https: boolean, host = 'win1.example.test', port = https ? 5986 : 5985) => ({ https, host, port });

test('parseProxyUrl: schemes, default port, credentials (percent-decoded), label without secrets', () => {
  assert.deepEqual(parseProxyUrl('http://proxy.example.test:3128', {}), {
    kind: 'http',
    host: 'proxy.example.test',
    port: 3128,
    label: 'http://proxy.example.test:3128',
  });
  assert.equal(parseProxyUrl('proxy:8080', {}).kind, 'http');
  assert.equal(parseProxyUrl('http://proxy', {}).port, 1080);
  const s = parseProxyUrl('http://us%40er:p%3Ass@[::1]:3128', {});
  assert.deepEqual([s.username, s.password, s.host, s.label], ['us@er', 'p:ss', '::1', 'http://[::1]:3128']);
  assert.equal(parseProxyUrl('socks5://127.0.0.1:1080', {}).kind, 'socks5');
  assert.equal(parseProxyUrl('socks5h://127.0.0.1:1080', {}).kind, 'socks5h');
  assert.equal(parseProxyUrl('http://u@p:1', { WINRM_PROXY_PASSWORD: 'from-env' }).password, 'from-env');
  assert.throws(() => parseProxyUrl('ftp://p:1', {}), InvalidArgumentError);
  assert.throws(
    () => parseProxyUrl('http://u:Secret-1@', {}),
    (e: unknown) => e instanceof InvalidArgumentError && !/Secret-1/.test((e as Error).message),
  );
});

test('proxyFor: explicit beats the environment; "" and false mean none', () => {
  const env = { https_proxy: 'http://envproxy:1' };
  assert.equal(proxyFor(T(true), { proxy: 'http://explicit:2', env })?.host, 'explicit');
  assert.equal(proxyFor(T(true), { proxy: '', env }), undefined);
  assert.equal(proxyFor(T(true), { proxy: false, env }), undefined);
  assert.equal(proxyFor(T(true), { env })?.host, 'envproxy');
});

test('proxyFor: https_proxy for https targets, http_proxy for http ones, lower case first, empty = unset, all_proxy fallback', () => {
  const env = { HTTPS_PROXY: 'http://upper-s:1', https_proxy: 'http://lower-s:1', HTTP_PROXY: 'http://upper-h:1' };
  assert.equal(proxyFor(T(true), { env })?.host, 'lower-s');
  assert.equal(proxyFor(T(false), { env })?.host, 'upper-h');
  assert.equal(proxyFor(T(false), { env: { http_proxy: 'http://lower-h:1', HTTP_PROXY: 'http://upper-h:1' } })?.host, 'lower-h');
  assert.equal(proxyFor(T(true), { env: { HTTPS_PROXY: '', HTTP_PROXY: 'http://h:1' } }), undefined);
  assert.equal(proxyFor(T(true), { env: { ALL_PROXY: 'socks5://all:1' } })?.host, 'all');
  assert.equal(proxyFor(T(false), { env: {} }), undefined);
});

test('NO_PROXY: *, suffixes on label boundaries, exact IPs, CIDR, ports; --noproxy replaces it', () => {
  assert.equal(noProxyMatches('anything', 1, '*'), true);
  assert.equal(noProxyMatches('win1.example.test', 5985, 'example.test'), true);
  assert.equal(noProxyMatches('win1.example.test', 5985, '.example.test'), true);
  assert.equal(noProxyMatches('example.test', 5985, '.example.test'), true);
  assert.equal(noProxyMatches('badexample.test', 5985, 'example.test'), false);
  assert.equal(noProxyMatches('WIN1.Example.Test.', 5985, 'example.test'), true);
  assert.equal(noProxyMatches('10.1.2.3', 5985, 'localhost, 10.1.2.3'), true);
  assert.equal(noProxyMatches('10.1.2.30', 5985, '10.1.2.3'), false);
  assert.equal(noProxyMatches('10.1.2.30', 5985, '10.0.0.0/8'), true);
  assert.equal(noProxyMatches('11.1.2.30', 5985, '10.0.0.0/8'), false);
  assert.equal(noProxyMatches('fd00::5', 5985, 'fd00::/16'), true);
  assert.equal(noProxyMatches('::1', 5985, '[::1]'), true);
  assert.equal(noProxyMatches('0:0:0:0:0:0:0:1', 5985, '::1'), true);
  assert.equal(noProxyMatches('::ffff:10.0.0.1', 5985, '::ffff:10.0.0.1'), true);
  assert.equal(noProxyMatches('win1.example.test', 5986, 'example.test:5985'), false);
  assert.equal(noProxyMatches('win1.example.test', 5985, 'example.test:5985'), true);
  assert.equal(noProxyMatches('10.0.0.1', 5985, 'example.test'), false);
  const env = { https_proxy: 'http://p:1', no_proxy: 'example.test' };
  assert.equal(proxyFor(T(true), { env }), undefined);
  assert.equal(proxyFor(T(true), { env, noProxy: 'other.test' })?.host, 'p');
  assert.equal(proxyFor(T(true), { proxy: 'http://explicit:1', env }), undefined, 'NO_PROXY applies to an explicit proxy too (as curl)');
});

test('parseJumpHost: ssh -J forms', () => {
  assert.deepEqual(parseJumpHost('bastion'), { host: 'bastion', port: undefined, username: undefined });
  assert.deepEqual(parseJumpHost('ops@bastion.example.test:2222'), { host: 'bastion.example.test', port: 2222, username: 'ops' });
  assert.deepEqual(parseJumpHost('ops@[fd00::1]:22'), { host: 'fd00::1', port: 22, username: 'ops' });
  assert.throws(() => parseJumpHost('a@b@c'), InvalidArgumentError);
  assert.throws(() => parseJumpHost('host:99999'), InvalidArgumentError);
});
