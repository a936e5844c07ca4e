/**
 * Busybox applets in a guest, each checked against the same busybox binary
 * run natively on the host: same script, same inputs (made by the script in
 * an empty working directory, through relative paths), same stdout and exit
 * status. The host's Linux is the oracle.
 *
 * A few outputs legitimately differ between a guest and its host (the time,
 * the processes, the filesystem sizes, the host's name and users): those get a
 * normalizing function applied to both sides, or a check of what the guest
 * must print instead of a native comparison.
 */
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, realpath, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageDir } from '../src/paths.ts';
import { bootExec, busyboxBinary, lines, Scratch, warmUp } from './helpers/guest.ts';

interface Output {
  stdout: string;
  exitCode: number | undefined;
}

interface Case {
  applet: string;
  /** Runs in an empty working directory, with umask 022 and TZ=UTC. */
  script: string;
  /** Applied to the stdout of both sides before they are compared. */
  normalize?: (stdout: string) => string;
  /** false: the guest's output is not compared with a native run; `check` is the truth. */
  native?: false;
  /** What the guest's output must satisfy besides (or instead of) matching the native run. */
  check?: (guest: Output) => void;
}

/** The guest's hostname, from the config the guest boots with. */
const guestConfig = JSON.parse(await readFile(join(packageDir, 'guest-configs/busybox.json'), 'utf8')) as { hostname: string };

const numbersOnly = (s: string) => s.replace(/\d+/g, 'N');
const basenames = (s: string) => s.replace(/^\/\S*\//gm, '');

const CASES: Case[] = [
  {
    applet: 'ls',
    script: `mkdir d; touch d/b d/a d/.hidden; ln -s a d/l
ls d; ls -a d; ls -1 d | wc -l; ls -l d | awk '{print $1, $NF}'
ls -F d; ls -d d; ls nosuch 2>&1; echo "status $?"`,
  },
  {
    applet: 'cat',
    script: `printf 'a\\nb\\n\\nc\\n' > f
cat f f; cat -n f; echo piped | cat - f; cat nosuch 2>&1; echo "status $?"`,
  },
  {
    applet: 'cp',
    script: `echo one > a; cp a b; cat b; mkdir d; cp a b d/; ls d
cp -r d e; ls e; chmod 600 a; cp -p a p; stat -c %a p
cp nosuch z 2>&1; echo "status $?"`,
  },
  {
    applet: 'mv',
    script: `echo x > a; mv a b; ls; cat b; mkdir d; mv b d/; ls . d
mv d e; ls; mv nosuch z 2>&1; echo "status $?"`,
  },
  {
    applet: 'rm',
    script: `touch a b; mkdir -p d/e; touch d/e/f; rm a; ls; rm -r d; ls
rm nosuch 2>&1; echo "status $?"; rm -f nosuch; echo "status $?"; mkdir x; rm x 2>&1; echo "status $?"`,
  },
  {
    applet: 'mkdir',
    script: `mkdir a; mkdir -p b/c/d; find . | sort; mkdir a 2>&1; echo "status $?"
mkdir -m 700 m; stat -c %a m; mkdir q/r 2>&1; echo "status $?"`,
  },
  {
    applet: 'rmdir',
    script: `mkdir -p a/b; rmdir a 2>&1; echo "status $?"; rmdir a/b a; ls; echo "status $?"
touch f; rmdir f 2>&1; echo "status $?"`,
  },
  {
    applet: 'ln',
    script: `echo x > f; ln f h; ln -s f s; readlink s; cat h s; stat -c '%h %F' f s
ln -s f s 2>&1; echo "status $?"; ln -sf f s; readlink s; mkdir d; ln -s ../f d/up; cat d/up`,
  },
  {
    applet: 'touch',
    script: `touch a; ls; touch -d '2020-01-02 03:04:05' a; date -r a '+%F %T'
touch -c nosuch; ls; touch d/x 2>&1; echo "status $?"`,
  },
  {
    applet: 'chmod',
    script: `touch f; chmod 640 f; stat -c %a f; chmod u+x,o+r f; stat -c '%a %A' f
mkdir d; touch d/g; chmod -R 700 d; stat -c %a d d/g; chmod 644 nosuch 2>&1; echo "status $?"`,
  },
  {
    applet: 'find',
    script: `mkdir -p a/b; touch a/x a/b/y; echo data > a/b/z
find . | sort; find . -name y; find . -type d | sort; find . -type f -size +0 | sort
find a -maxdepth 1 | sort; find . -name '*.none'; echo "status $?"`,
  },
  {
    applet: 'grep',
    script: `printf 'apple\\nbanana\\ncherry\\n' > f
grep an f; grep -c a f; grep -v an f; grep -n e f; grep -E '^(a|c)' f; grep -i APPLE f
grep zzz f; echo "status $?"; grep x nosuch 2>&1; echo "status $?"; grep -r an . ; grep -l an f`,
  },
  {
    applet: 'sed',
    script: `printf 'one\\ntwo\\nthree\\n' > f
sed 's/o/0/g' f; sed -n 2p f; sed '2d' f; sed -e '1i\\
top' f; sed -i 's/one/1/' f; cat f; echo abc | sed -E 's/(b)/[\\1]/'`,
  },
  {
    applet: 'awk',
    script: `printf '1 2\\n3 4\\n' | awk '{s += $1 * $2} END {print s, NR}'
awk 'BEGIN {printf "%.3f %d %s\\n", atan2(0, -1), 7 / 2, toupper("x")}'
echo 'a:b:c' | awk -F: '{print $2, NF}'; awk 'BEGIN {exit 3}'; echo "status $?"`,
  },
  {
    applet: 'sort',
    script: `printf 'b\\na\\nc\\nb\\n' > f; sort f; sort -u f; sort -r f
printf '10\\n9\\n100\\n' | sort -n; printf 'x 2\\ny 1\\n' | sort -k2; sort -c f; echo "status $?"`,
  },
  {
    applet: 'uniq',
    script: `printf 'a\\na\\nb\\na\\n' > f; uniq f; uniq -c f; uniq -d f; uniq -u f`,
  },
  {
    applet: 'wc',
    script: `printf 'a b\\nc\\n' > f; wc f; wc -l < f; wc -c f; wc -w f; seq 1000 | wc`,
  },
  {
    applet: 'head',
    script: `seq 20 > f; head -3 f; head -c 5 f; echo; head -n -17 f; seq 3 | head -1`,
  },
  {
    applet: 'tail',
    script: `seq 20 > f; tail -3 f; tail -n +18 f; tail -c 4 f; seq 5 | tail -1`,
  },
  {
    applet: 'cut',
    script: `echo a:b:c | cut -d: -f2; echo hello | cut -c2-4; printf 'x\\ty\\tz\\n' | cut -f1,3`,
  },
  {
    applet: 'tr',
    script: `echo hello | tr a-z A-Z; echo aabbcc | tr -s ab; echo abc | tr -d b; echo a-b | tr -c 'a-z\\n' _`,
  },
  {
    applet: 'tee',
    script: `echo x | tee f g; cat f g; echo y | tee -a f > /dev/null; cat f`,
  },
  {
    applet: 'xargs',
    script: `printf 'a\\nb\\nc\\n' | xargs echo; printf '1 2 3 4' | xargs -n 2 echo
touch p q; ls | xargs -I{} echo item {}; echo | xargs echo empty`,
  },
  {
    applet: 'tar',
    script: `mkdir d; echo x > d/f; mkdir d/e; echo y > d/e/g
tar cf a.tar d; tar tf a.tar | sort; rm -r d; tar xf a.tar; cat d/f d/e/g
tar czf b.tgz d; tar tzf b.tgz | sort; mkdir out; tar xzf b.tgz -C out; find out | sort`,
  },
  {
    applet: 'gzip',
    script: `seq 1000 > f; gzip f; ls; gzip -t f.gz; echo "status $?"; gzip -dc f.gz | tail -1
seq 100 | gzip -c | gzip -dc | wc -l; seq 100 | gzip -9 | md5sum; gzip nosuch 2>&1; echo "status $?"`,
  },
  {
    applet: 'gunzip',
    script: `seq 100 | gzip > f.gz; gunzip f.gz; ls; wc -l f; echo junk > j.gz; gunzip j.gz 2>&1; echo "status $?"`,
  },
  {
    applet: 'md5sum',
    script: `echo abc > f; md5sum f; seq 10000 | md5sum; md5sum f > sums; md5sum -c sums; echo "status $?"`,
  },
  {
    applet: 'sha256sum',
    script: `echo abc > f; sha256sum f; head -c 100000 /dev/zero | sha256sum; sha256sum f > sums
echo abd > f; sha256sum -c sums 2>&1; echo "status $?"`,
  },
  {
    applet: 'date (fixed times)',
    script: `date -u -d @0; date -u -d '2000-01-02 03:04:05' +%s; date -u -d @86400 '+%Y-%m-%d %H:%M:%S %a %j'
date -d @1700000000 -R; date -u -d bogus 2>&1; echo "status $?"`,
  },
  {
    applet: 'date (now)',
    script: 'date +%Y; date +%s',
    native: false,
    check: ({ stdout, exitCode }) => {
      expect(exitCode).toBe(0);
      const [year, seconds] = lines(stdout);
      expect(year).toBe(String(new Date().getUTCFullYear()));
      expect(Math.abs(Number(seconds) - Date.now() / 1000)).toBeLessThan(120);
    },
  },
  {
    applet: 'sleep',
    script: `sleep 0.1; echo "status $?"; sleep 0 0.2s 0 2>/dev/null; echo "status $?"; sleep x 2>&1 | head -1; sleep 2>/dev/null; echo "status $?"`,
  },
  {
    applet: 'sleep (duration)',
    // busybox time measures the wall time of its child: the sleep must really last.
    script: 'time -f %e sleep 0.5 2>&1',
    native: false,
    check: ({ stdout, exitCode }) => {
      expect(exitCode).toBe(0);
      const seconds = Number(stdout.trim());
      expect(seconds).toBeGreaterThanOrEqual(0.49);
      expect(seconds).toBeLessThan(3);
    },
  },
  {
    applet: 'ps',
    // The shell stays pid 1 (two commands), so ps sees exactly two processes: its shell and itself.
    // This busybox's ash runs applets in a fork without exec, so ps shows as "{ps} <the shell's argv>".
    script: `ps; echo "status $?"`,
    // The header is the same; the rows are the guest's own processes.
    normalize: (s) => [lines(s)[0], lines(s).at(-1)].join('\n'),
    check: ({ stdout }) => {
      const rows = lines(stdout).slice(1, -1).map((row) => row.trim().split(/\s+/));
      expect(rows.map((r) => [r[0], r.slice(2).join(' ')]), stdout).toEqual([
        ['1', expect.stringMatching(/^(\/bin\/)?sh -c /)],
        [expect.stringMatching(/^\d+$/), expect.stringMatching(/^(ps|\{ps\} .*)$/)],
      ]);
      expect(Number(rows[1]![0])).toBeLessThan(1000);
    },
  },
  {
    applet: 'kill',
    script: `sleep 10 & p=$!
kill $p; wait $p; echo "wait after TERM: $?"; kill -0 $p 2>/dev/null; echo "kill -0 reaped: $?"
kill -0 $$; echo "kill -0 self: $?"; kill -l 15; kill -l TERM
sleep 10 & p=$!; busybox kill -s KILL $p; wait $p; echo "wait after KILL: $?"
busybox kill -l | head -3; busybox kill -0 2>&1 | head -1`,
  },
  {
    applet: 'env',
    script: `env - PATH="$PATH" A=1 B='x y' env | grep -v '^PATH='; env | grep '^HOME='
env -u HOME sh -c 'echo "HOME=[$HOME]"'; env - PATH="$PATH" C=3 sh -c 'echo $C'`,
  },
  {
    applet: 'printf',
    script: `printf '%5d|%-5s|%x|%o|%e\\n' 42 ab 255 8 1.5; printf '%s\\n' a b c; printf '\\101\\n'
busybox printf '%05.1f|%c|%%\\n' 3.14159 xyz; busybox printf '%d\\n' abc 2>&1; echo "status $?"`,
  },
  {
    applet: 'test',
    script: `touch f; mkdir d
for t in '1 -lt 2' '-d d' '-f d' '-f f' '-e nosuch' 'a = b' '-z ""' '-n x' '5 -ge 5' '-x f' '-s f'; do
  eval "busybox test $t"; echo "test $t: $?"; eval "[ $t ]"; echo "[ $t ]: $?"
done`,
  },
  {
    applet: 'expr',
    script: `expr 6 \\* 7; expr length hello; expr 5 \\> 3; expr substr hello 2 3; expr index hello l
expr 1 / 0 2>&1; echo "status $?"; expr 0; echo "status $?"; expr abc : 'a\\(.\\)'`,
  },
  {
    applet: 'seq',
    script: `seq 3; seq 2 2 10; seq -s, 5; seq 5 -1 1; seq -w 8 10; seq 1 0; echo "status $?"`,
  },
  {
    applet: 'dd',
    script: `dd if=/dev/zero of=z bs=512 count=4 2>&1; wc -c z
printf abcdefgh | dd bs=1 skip=2 count=3 2>/dev/null; echo
printf abcdefgh > s; dd if=s of=t bs=2 seek=1 conv=notrunc 2>/dev/null; od -c t | head -2
dd if=nosuch 2>&1; echo "status $?"`,
  },
  {
    applet: 'stat',
    script: `echo hello > f; stat -c '%s %a %F %n' f; mkdir d; stat -c '%F %a' d; ln -s f l
stat -c '%F %N' l; stat -L -c '%s %F' l; stat -c %h f; stat nosuch 2>&1; echo "status $?"`,
  },
  {
    applet: 'df',
    script: `df /; echo "status $?"`,
    // The sizes are those of the guest's root, not the host's; the header and the status are the same.
    normalize: (s) => [lines(s)[0], lines(s).at(-1)].join('\n'),
    check: ({ stdout }) => {
      expect(lines(stdout)[1], stdout).toMatch(/^\S+\s+\d+\s+\d+\s+\d+\s+\d+%\s+\/$/);
    },
  },
  {
    applet: 'du',
    // Block counts depend on the filesystem (a guest's /tmp is the kernel's tmpfs): compare names and signs.
    script: `mkdir -p d/e; echo hello > d/f; head -c 20000 /dev/zero > d/e/g
du -a d | cut -f2 | sort; du -s d | cut -f2; du -sk d/e | awk '{print ($1 >= 19) ? "at least 19K" : $1}'`,
  },
  {
    applet: 'id',
    // The guest's user is the config's uid/gid 0, named by the guest's /etc/passwd; the host's may be anyone.
    script: 'id -u; id -g; id -un; id -gn; id',
    native: false,
    check: ({ stdout, exitCode }) => {
      expect(exitCode).toBe(0);
      const out = lines(stdout);
      expect(out.slice(0, 4)).toEqual(['0', '0', 'root', 'root']);
      expect(out[4]).toMatch(/^uid=0\(root\) gid=0\(root\)/);
    },
  },
  {
    applet: 'su',
    // An ordinary user's open(O_CREAT) gets the access it asked for on the file it creates, whatever
    // mode the file gets (do_open(): no permission check on a new file); an existing one is checked.
    // Not run natively: su needs root and a "nobody" user on the host.
    script: `chmod 777 .; su -s /bin/sh nobody -c 'id -u; umask 222; echo hi > f && cat f; echo again > f; echo "status $?"'`,
    native: false,
    check: ({ stdout }) => {
      expect(lines(stdout)).toEqual(['65534', 'hi', 'status 1']);
    },
  },
  {
    applet: 'uname',
    script: 'uname -s; uname -m; uname -o; uname -p',
  },
  {
    applet: 'uname (guest fields)',
    // The node name is the guest's and the release is the guest kernel's own string.
    script: 'uname -n; uname -r; uname -a',
    native: false,
    check: ({ stdout, exitCode }) => {
      expect(exitCode).toBe(0);
      const [node, release, all] = lines(stdout);
      expect(node).toBe(guestConfig.hostname);
      expect(release).toMatch(/\S/);
      expect(all).toBe(`Linux ${guestConfig.hostname} ${release} ${all!.split(' ').slice(3).join(' ')}`);
      expect(all).toMatch(/ x86_64 GNU\/Linux$/);
    },
  },
  {
    applet: 'hostname',
    // The guest's own name, then a new one set by the guest (never the host's: it is not run natively).
    script: 'hostname; cat /etc/hostname; hostname guest-renamed; hostname; uname -n; hostname -s',
    native: false,
    check: ({ stdout, exitCode }) => {
      expect(exitCode).toBe(0);
      const name = guestConfig.hostname;
      expect(lines(stdout)).toEqual([name, name, 'guest-renamed', 'guest-renamed', 'guest-renamed']);
    },
  },
  {
    applet: 'which',
    script: `which ls sh busybox; which nosuch; echo "status $?"; PATH=/nowhere which ls; echo "status $?"`,
    // Native applet links all live in one host directory; the guest's in /bin, /sbin, /usr/bin.
    normalize: basenames,
    check: ({ stdout }) => {
      expect(lines(stdout).slice(0, 3)).toEqual(['/bin/ls', '/bin/sh', '/bin/busybox']);
    },
  },
  {
    applet: 'basename',
    script: `basename /a/b/c.txt; basename /a/b/c.txt .txt; basename /; basename a/; basename ''`,
  },
  {
    applet: 'dirname',
    script: `dirname /a/b/c; dirname a; dirname /; dirname a/b/; dirname //x`,
  },
  {
    applet: 'readlink',
    script: `touch t; ln -s t l; ln -s l ll; readlink l; readlink ll; readlink -f ll; readlink t; echo "status $?"
mkdir d; ln -s ../t d/up; readlink -f d/up; readlink -f nosuch/x; echo "status $?"`,
  },
  {
    applet: 'realpath',
    script: `mkdir -p a/b; ln -s a/b l; realpath l; realpath a/../a/b; realpath .; realpath nosuch 2>&1; echo "status $?"`,
  },
];

let scratch: Scratch;
let nativeBin: string;
let nativeHome: string;

beforeAll(async () => {
  scratch = await Scratch.create('applets');
  await warmUp(scratch);
  // The native side: the guest's own busybox, one link per applet, as the only PATH.
  const busybox = await busyboxBinary();
  nativeBin = join(scratch.dir, 'native-bin');
  nativeHome = join(scratch.dir, 'native');
  await mkdir(nativeBin, { recursive: true });
  await mkdir(nativeHome, { recursive: true });
  const { stdout } = await execa(busybox, ['--list']);
  for (const applet of [...lines(stdout), 'busybox']) {
    await symlink(busybox, join(nativeBin, applet)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
});

afterAll(async () => {
  await scratch?.remove();
});

const GUEST_CWD = '/tmp/w';

/** The prelude both sides run: an empty working directory, the same umask and time zone. */
function prelude(cwd: string): string {
  return `cd ${cwd} && umask 022 && export TZ=UTC && `;
}

async function runNative(script: string): Promise<Output & { cwd: string }> {
  const cwd = join(await realpath(await mkdtemp(join(nativeHome, 'case-'))), 'w');
  await mkdir(cwd);
  const result = await execa(join(nativeBin, 'sh'), ['-c', `${prelude(cwd)}{\n${script}\n}`], {
    reject: false,
    stdin: 'ignore',
    cwd,
    extendEnv: false,
    env: { PATH: nativeBin, HOME: '/root' },
    timeout: 30_000,
  });
  return { stdout: String(result.stdout), exitCode: result.exitCode, cwd };
}

async function runGuest(script: string): Promise<Output & { stderr: string }> {
  const command = `rm -rf ${GUEST_CWD}; mkdir -p ${GUEST_CWD} && ${prelude(GUEST_CWD)}{\n${script}\n}`;
  const run = await bootExec(scratch, command, { fresh: true });
  return { stdout: run.stdout, exitCode: run.exitCode, stderr: run.stderr };
}

describe.sequential('busybox applets: guest against native', () => {
  it.each(CASES.map((c) => [c.applet, c] as const))('%s', async (_name, c) => {
    const guest = await runGuest(c.script);
    const context = `guest stdout:\n${guest.stdout}\nguest stderr:\n${guest.stderr}`;
    if (c.native !== false) {
      const first = await runNative(c.script);
      const second = await runNative(c.script);
      const normalize = c.normalize ?? ((s: string) => s);
      const nativeOut = (o: typeof first) => normalize(o.stdout.replaceAll(o.cwd, '<cwd>'));
      // An oracle that changes between two runs would make the comparison meaningless.
      expect(nativeOut(second), 'the native run is not deterministic').toBe(nativeOut(first));
      const guestOut = normalize(guest.stdout.replaceAll(GUEST_CWD, '<cwd>'));
      expect(guestOut, context).toBe(nativeOut(first));
      expect(guest.exitCode, context).toBe(first.exitCode);
    }
    c.check?.(guest);
  });
});
