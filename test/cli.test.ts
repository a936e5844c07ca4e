/**
 * The CLI as a user meets it: help, errors that name what is wrong,
 * build-host's idempotence and host report, and the bundle a run loads
 * (an edit is live on the next run). Nothing here needs the guest kernel
 * or the tracer addon to work.
 */
import { execa } from 'execa';
import { cp, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Boot from '../commands/boot.ts';
import BuildHost from '../commands/build-host.ts';
import { packageDir } from '../src/paths.ts';
import { vmctl } from './helpers/vmctl.ts';

const COMMANDS = { boot: Boot, 'build-host': BuildHost };

describe('vmctl --help', () => {
  it('lists every command with its summary and examples', async () => {
    const run = await vmctl(['--help']);
    expect(run.exitCode).toBe(0);
    for (const [id, command] of Object.entries(COMMANDS)) {
      expect(run.text).toContain(`${id} ${command.summary}`.replace(/\s+/g, ' '));
      expect(run.text).toContain(`$ vmctl ${id}`);
    }
    expect(run.text).toContain('EXAMPLES');
  });

  it.each(Object.entries(COMMANDS))('%s --help documents every flag', async (id, command) => {
    const run = await vmctl([id, '--help']);
    expect(run.exitCode).toBe(0);
    for (const [name, flag] of Object.entries(command.flags ?? {})) {
      expect(run.text).toContain(`--${name}`);
      expect(run.text).toContain(String(flag.description).replace(/\s+/g, ' ').slice(0, 30));
    }
    expect(run.text).toContain('EXAMPLES');
  });
});

describe('vmctl boot errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmctl-cli-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function bootConfig(config: unknown): Promise<Awaited<ReturnType<typeof vmctl>>> {
    const file = join(dir, 'guest.json');
    await writeFile(file, JSON.stringify(config));
    return vmctl(['boot', file]);
  }

  const valid = { name: 'x', rootfs: 'busybox', init: ['/sbin/init'] };

  it('lists the known guests for an unknown name', async () => {
    const run = await vmctl(['boot', 'nosuch']);
    expect(run.exitCode).toBe(2);
    expect(run.text).toContain('unknown guest "nosuch"; known guests: busybox');
  });

  it('names the field of a config that has the wrong type', async () => {
    const run = await bootConfig({ ...valid, hostname: 42 });
    expect(run.exitCode).toBe(2);
    expect(run.text).toContain('guest.json: field "hostname" must be a string');
  });

  it('names a missing required field', async () => {
    const run = await bootConfig({ name: 'x', rootfs: 'busybox' });
    expect(run.exitCode).toBe(2);
    expect(run.text).toContain('field "init" is required');
  });

  it('names an unknown field', async () => {
    const run = await bootConfig({ ...valid, hostnmae: 'typo' });
    expect(run.exitCode).toBe(2);
    expect(run.text).toContain('field "hostnmae" is not a guest config field');
  });

  it('says when a config file is not JSON', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{ "name": ');
    const run = await vmctl(['boot', file]);
    expect(run.exitCode).toBe(2);
    expect(run.text).toContain('broken.json: not valid JSON');
  });

  it('refuses a --rootfs that does not exist, before building anything', async () => {
    const run = await vmctl(['boot', '--rootfs', join(dir, 'no-such-root'), '--exec', 'true']);
    expect(run.exitCode).toBe(5);
    expect(run.text).toContain('no-such-root does not exist');
  });

  it('refuses a --rootfs without /bin/sh', async () => {
    const run = await vmctl(['boot', '--rootfs', dir, '--exec', 'true']);
    expect(run.exitCode).toBe(5);
    expect(run.text).toContain('has no /bin/sh');
  });
});

describe('vmctl build-host', () => {
  it('builds, then says up to date and prints the host report', async () => {
    // The first run builds whatever is stale; the tracer addon may not compile
    // while it is being written, which must not hide the probe's report.
    const first = await vmctl(['build-host'], { timeout: 300_000 });
    expect(first.text).toContain('vmctl-probe');
    const second = await vmctl(['build-host']);
    expect(second.text).toMatch(/vmctl-probe up to date/);
    expect(second.text).not.toMatch(/compiling vmctl-probe/);
    for (const row of [
      'host facilities:',
      'kernel release',
      'PTRACE_SYSEMU',
      'seccomp filters',
      'seccomp user notification',
      'process_vm_readv',
    ]) {
      expect(second.text).toContain(row);
    }
    expect(second.text).toMatch(/helper patch (absent|present|partial)/);
    if (second.exitCode !== 0) expect(second.text).toMatch(/failed to compile|ptrace is refused|no sources/);
  });

  it('does not recompile a source that was only touched', async () => {
    // Its mtime no longer matches the stamp's fingerprint, its text still matches the stamp's hash.
    const probe = join(packageDir, 'src', 'tracer', 'probe', 'probe.c');
    const now = new Date();
    await utimes(probe, now, now);
    const run = await vmctl(['build-host']);
    expect(run.text).toMatch(/vmctl-probe up to date/);
    expect(run.text).not.toMatch(/compiling vmctl-probe/);
  });

  it('rebuilds everything with --force', async () => {
    const run = await vmctl(['build-host', '--force', '--verbose'], { timeout: 300_000 });
    expect(run.text).toContain('compiling vmctl-probe');
    expect(run.text).toMatch(/\+ .*-std=gnu11 .* src\/tracer\/probe\/probe\.c -o build\/host\//);
  });
});

describe('the CLI bundle (build/cli/, scripts/cli-bundle.js)', () => {
  // A copy of the package, so that its sources can be edited while other tests run this one's.
  let copy: string;
  beforeAll(async () => {
    copy = await mkdtemp(join(tmpdir(), 'vmctl-bundle-test-'));
    for (const entry of ['bin', 'scripts', 'commands', 'src', 'bench', 'package.json', 'tsconfig.json']) {
      await cp(join(packageDir, entry), join(copy, entry), { recursive: true });
    }
    await symlink(join(packageDir, 'node_modules'), join(copy, 'node_modules'));
  });
  afterAll(async () => {
    await rm(copy, { recursive: true, force: true });
  });

  const run = (args: string[]) => execa(process.execPath, [join(copy, 'bin', 'vmctl.js'), ...args], { reject: false, stdin: 'ignore' });
  const currentBuild = async () => (JSON.parse(await readFile(join(copy, 'build', 'cli', 'current.json'), 'utf8')) as { id: string }).id;
  const listTs = () => join(copy, 'commands', 'list.ts');

  it('is built on the first run and rebuilt after an edit, which the next runs show', async () => {
    const first = await run(['--help']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain('List the running guests');
    const firstBuild = await currentBuild();

    const edited = `Edited summary ${process.pid}.`;
    await writeFile(listTs(), (await readFile(listTs(), 'utf8')).replace(/static override summary = '[^']*';/, `static override summary = '${edited}';`));
    // Several at once, as tests run them: each sees a whole bundle, old or new, and the new one once built.
    const runs = await Promise.all([1, 2, 3].map(() => run(['--help'])));
    for (const r of runs) {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain(edited);
      expect(r.stderr).not.toContain('through tsx');
    }
    const secondBuild = await currentBuild();
    expect(secondBuild).not.toBe(firstBuild);
    expect(await readFile(join(copy, 'build', 'cli', secondBuild, 'commands', 'index.js'), 'utf8')).toContain(edited);
    // Unchanged since: the next run loads that bundle as it is.
    expect((await run(['--version'])).exitCode).toBe(0);
    expect(await currentBuild()).toBe(secondBuild);
  });

  it('falls back to tsx, saying so, when the sources do not bundle', async () => {
    const broken = join(copy, 'src', 'kernel', 'broken-for-test.ts');
    await writeFile(join(copy, 'src', 'kernel', 'boot.ts'),
      `import './broken-for-test.ts';\n${await readFile(join(copy, 'src', 'kernel', 'boot.ts'), 'utf8')}`);
    await writeFile(broken, 'export const = ;\n');
    const r = await run(['--version']);
    expect(r.stderr).toMatch(/vmctl: cannot bundle the CLI \(.*broken-for-test\.ts.*\); running it through tsx/);
    // (--version loads no kernel module, so tsx never meets the broken one)
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^vmctl\/\d/);
  });
});
