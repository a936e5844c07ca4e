/** Guest configs: validation messages, defaults, and what the kernel is handed. */
import { describe, expect, it } from 'vitest';
import { kernelBootOptions } from '../src/boot.ts';
import { validateGuestConfig } from '../src/guest/config.ts';
import { loadGuestConfig } from '../src/guest/locate.ts';
import { guestState } from '../src/guest/state.ts';

const valid = { name: 'x', rootfs: 'busybox', init: ['/sbin/init'] };

function check(json: unknown) {
  return () => validateGuestConfig(json, 'x.json', '/configs/x.json');
}

describe('validateGuestConfig', () => {
  it('fills the defaults', () => {
    expect(check(valid)()).toEqual({
      name: 'x',
      description: '',
      rootfs: { kind: 'builtin', name: 'busybox' },
      init: ['/sbin/init'],
      env: {},
      hostname: 'vmctl',
      cwd: '/',
      uid: 0,
      gid: 0,
      rlimits: {},
    });
  });

  it('resolves a relative rootfs against the config file', () => {
    expect(check({ ...valid, rootfs: '../roots/alpine' })().rootfs).toEqual({ kind: 'directory', path: '/roots/alpine' });
  });

  it.each([
    [{ ...valid, hostname: 42 }, 'x.json: field "hostname" must be a string'],
    [{ ...valid, init: [] }, 'field "init" must be a non-empty array'],
    [{ ...valid, init: ['sh'] }, 'field "init[0]" must be an absolute guest path'],
    [{ ...valid, init: ['/bin/sh', 3] }, 'field "init[1]" must be a string'],
    [{ ...valid, env: { PATH: 1 } }, 'field "env.PATH" must be a string'],
    [{ ...valid, env: ['PATH=/bin'] }, 'field "env" must be an object'],
    [{ ...valid, cwd: 'root' }, 'field "cwd" must be an absolute guest path'],
    [{ ...valid, uid: -1 }, 'field "uid" must be an integer'],
    [{ ...valid, gid: 1.5 }, 'field "gid" must be an integer'],
    [{ ...valid, rlimits: { files: 10 } }, 'field "rlimits.files" is not a resource limit'],
    [{ ...valid, rlimits: { nofile: -1 } }, 'field "rlimits.nofile" must be a non-negative integer'],
    [{ ...valid, name: '../evil' }, 'field "name" must start with a letter or digit'],
    [{ ...valid, hostname: 'h'.repeat(65) }, 'field "hostname" must be 1 to 64 bytes'],
    [{ ...valid, colour: 'red' }, 'field "colour" is not a guest config field'],
    [{ name: 'x', init: ['/sbin/init'] }, 'field "rootfs" is required'],
    [[valid], 'x.json: a guest config must be a JSON object'],
  ])('rejects %j', (json, message) => {
    expect(check(json)).toThrow(message);
  });
});

describe('the shipped guest configs', () => {
  it('busybox is valid and the default', async () => {
    const config = await loadGuestConfig(undefined);
    expect(config.name).toBe('busybox');
    expect(config.rootfs).toEqual({ kind: 'builtin', name: 'busybox' });
    expect(config.init).toEqual(['/sbin/init']);
  });
});

describe('kernelBootOptions', () => {
  const config = check({ ...valid, env: { PATH: '/bin' }, rlimits: { nofile: 64 }, uid: 5 })();
  const paths = { lowerRoot: '/lower', upperRoot: '/state/upper', hostBuildDir: '/build' };

  it('boots the init on the console', () => {
    const opts = kernelBootOptions(config, paths, {});
    expect(opts).toMatchObject({ ...paths, argv: ['/sbin/init'], stdio: 'console', cwd: '/', uid: 5, gid: 0 });
    expect(opts.env).toContain('PATH=/bin');
    expect(opts.env.some((e) => e.startsWith('TERM='))).toBe(true);
    expect(opts.rlimits).toEqual({ nofile: 64 });
  });

  it('runs --exec through /bin/sh -c on the host stdio', () => {
    const opts = kernelBootOptions(config, paths, { exec: 'echo hi; exit 3' });
    expect(opts.argv).toEqual(['/bin/sh', '-c', 'echo hi; exit 3']);
    expect(opts.stdio).toBe('stdio');
    expect(opts.env).toEqual(['PATH=/bin']);
  });
});

describe('guestState', () => {
  it('keeps one upper layer per guest and root filesystem', () => {
    const builtin = guestState('busybox', { kind: 'builtin', name: 'busybox' }, '/cache/busybox-1.35-abc');
    expect(builtin.upper).toMatch(/\/vmctl\/busybox\/busybox\/upper$/);
    const a = guestState('busybox', { kind: 'directory', path: '/a/root' }, '/a/root');
    const b = guestState('busybox', { kind: 'directory', path: '/b/root' }, '/b/root');
    expect(a.upper).not.toBe(b.upper);
    expect(a.dir).toMatch(/\/vmctl\/busybox\/root-[0-9a-f]{12}$/);
  });
});
