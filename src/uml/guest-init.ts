/**
 * pid 1 of a UML guest. UML has no way to hand a status back to its host,
 * so vmctl boots `init=/bin/sh` with a small shell program that sets the
 * guest up the way the guest config says, runs the command (the config's
 * init, or `/bin/sh -c CMD` for --exec) as its child, reports the child's
 * exit status on a line of its own, then syncs and powers off.
 *
 * Nothing is written into the root filesystem for this: the program
 * travels on the kernel command line, in the environment variable
 * `vmctl_run` the kernel gives init, encoded so the kernel's parser keeps it
 * whole, and a bootstrap of a few characters turns it back into text (see
 * encodeForPrintf and BOOTSTRAP).
 *
 * The console lines (src/uml/run.ts attaches them to host fds):
 *   /dev/tty0  the console: stdin and stdout of the command
 *   /dev/tty1  the command's stderr under --exec
 *   /dev/tty2  the status channel: "vmctl-ready", then "vmctl-exit N"
 */

/** Lines pid 1 writes to the status channel. */
export const READY_LINE = 'vmctl-ready';
export const EXIT_LINE = 'vmctl-exit';

/**
 * init's argv after `init=/bin/sh --`: `-c` and a program with no space in
 * it, since the kernel splits its command line at spaces and hands each
 * word to init as one argument. `${IFS%??}` is a space (IFS is
 * space-tab-newline), so this reads `eval "$(printf "$vmctl_run")"`.
 */
export const BOOTSTRAP = 'eval${IFS%??}"$(printf${IFS%??}"$vmctl_run")"';

/**
 * Encodes text as a printf(1) format that prints it back: every byte the
 * kernel's command-line parser or printf would act on (a double quote, a
 * backslash, a percent sign, control and non-ASCII bytes) becomes a
 * three-digit octal escape. Spaces stay: the value is double-quoted.
 */
export function encodeForPrintf(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const safe = byte >= 0x20 && byte <= 0x7e && byte !== 0x22 && byte !== 0x5c && byte !== 0x25;
    out += safe ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/** Quotes one word for the guest's shell. */
export function shQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `ulimit` option and unit for each RLIMIT_* name a guest config may set (bytes become KiB or 512-byte blocks). */
const ULIMIT: Record<string, { option: string; unit: number }> = {
  cpu: { option: 't', unit: 1 },
  fsize: { option: 'f', unit: 512 },
  data: { option: 'd', unit: 1024 },
  stack: { option: 's', unit: 1024 },
  core: { option: 'c', unit: 512 },
  rss: { option: 'm', unit: 1024 },
  nproc: { option: 'u', unit: 1 },
  nofile: { option: 'n', unit: 1 },
  memlock: { option: 'l', unit: 1024 },
  as: { option: 'v', unit: 1024 },
  locks: { option: 'x', unit: 1 },
  sigpending: { option: 'i', unit: 1 },
  msgqueue: { option: 'q', unit: 1 },
  nice: { option: 'e', unit: 1 },
  rtprio: { option: 'r', unit: 1 },
  rttime: { option: 'R', unit: 1 },
};

export interface GuestInitSpec {
  /** The command: the config's init, or ['/bin/sh', '-c', CMD]. */
  argv: string[];
  /** Its whole environment (nothing of the kernel's init environment leaks in). */
  env: Record<string, string>;
  hostname: string;
  cwd: string;
  uid: number;
  gid: number;
  rlimits: Record<string, number>;
  /** stty settings for the console (tty0) and the stderr line (tty1); empty leaves a line as the kernel set it. */
  consoleStty: string[];
  stderrStty: string[];
  /** Send the command's stderr to tty1 (--exec) instead of the console. */
  separateStderr: boolean;
}

/** The shell program pid 1 runs. */
export function guestInitProgram(spec: GuestInitSpec): string {
  const lines = [
    'PATH=/sbin:/usr/sbin:/bin:/usr/bin',
    // The kernel mounts devtmpfs on /dev when the root has one; a root without, or a kernel without devtmpfs, gets nodes.
    '[ -c /dev/tty2 ] || mount -t devtmpfs devtmpfs /dev 2>/dev/null',
    '[ -c /dev/tty2 ] || { mknod /dev/tty1 c 4 1; mknod /dev/tty2 c 4 2; } 2>/dev/null',
    '[ -d /proc ] && mount -t proc proc /proc 2>/dev/null',
    '[ -d /sys ] && mount -t sysfs sysfs /sys 2>/dev/null',
    `hostname ${shQuote(spec.hostname)} 2>/dev/null || echo ${shQuote(spec.hostname)} >/proc/sys/kernel/hostname`,
  ];
  if (spec.consoleStty.length > 0) lines.push(`stty ${spec.consoleStty.join(' ')} 2>/dev/null`);
  if (spec.stderrStty.length > 0) lines.push(`stty ${spec.stderrStty.join(' ')} </dev/tty1 2>/dev/null`);

  const limits = Object.entries(spec.rlimits).filter(([name]) => ULIMIT[name] !== undefined);
  if (limits.length > 0) {
    // The soft limit as asked, raising the hard one when it is lower, as vmctl's own kernel does.
    lines.push(
      'vmctl_limit() { vmctl_h=$(ulimit -H -$1 2>/dev/null); ' +
        '[ "$vmctl_h" != unlimited ] && [ "$vmctl_h" -lt "$2" ] 2>/dev/null && ulimit -H -$1 "$2" 2>/dev/null; ' +
        'ulimit -S -$1 "$2" 2>/dev/null || echo "vmctl: the guest shell cannot set rlimit $3 (ulimit -$1)" >/dev/tty1; }',
    );
    for (const [name, value] of limits) {
      const { option, unit } = ULIMIT[name];
      lines.push(`vmctl_limit ${option} ${Math.floor(value / unit)} ${name}`);
    }
  }

  // The command's argv, wrapped from the inside out: its environment, its credentials, its session.
  const env = Object.entries(spec.env).map(([name, value]) => shQuote(`${name}=${value}`));
  lines.push(`set -- ${spec.argv.map(shQuote).join(' ')}`);
  lines.push(`if command -v env >/dev/null 2>&1; then set -- env -i ${env.join(' ')} "$@"; else ${env.length > 0 ? `export ${env.join(' ')}` : ':'}; fi`);
  if (spec.uid !== 0 || spec.gid !== 0) {
    // util-linux's setpriv; busybox's has no --reuid, but its nsenter sets numeric ids without entering anything.
    const { uid, gid } = spec;
    lines.push(
      `if setpriv --reuid=0 --regid=0 --clear-groups true 2>/dev/null; then set -- setpriv --reuid=${uid} --regid=${gid} --clear-groups "$@"; ` +
        `elif nsenter -F -S 0 -G 0 true 2>/dev/null; then set -- nsenter -F -S ${uid} -G ${gid} "$@"; ` +
        `else echo "vmctl: the guest has no setpriv or busybox nsenter to run as uid ${uid} gid ${gid}" >/dev/tty1; set -- false; fi`,
    );
  }
  // Its own session with the console as controlling tty, so ^C and job control reach it.
  lines.push('command -v setsid >/dev/null 2>&1 && set -- setsid -c "$@"');

  lines.push(`echo ${READY_LINE} >/dev/tty2`);
  // On the console's own device rather than /dev/console, so that tty(1) and ttyname() name it.
  const stdio = `</dev/tty0 >/dev/tty0 2>${spec.separateStderr ? '/dev/tty1' : '/dev/tty0'}`;
  lines.push(`if cd ${shQuote(spec.cwd)}; then "$@" ${stdio}; vmctl_status=$?; else vmctl_status=1; fi`);
  lines.push(`echo "${EXIT_LINE} $vmctl_status" >/dev/tty2`);
  // Setting the console's modes again waits (TCSADRAIN) until UML has written out all the command's output.
  lines.push(`stty ${spec.consoleStty.length > 0 ? spec.consoleStty.join(' ') : 'opost'} 2>/dev/null`);
  if (spec.separateStderr) lines.push(`stty ${spec.stderrStty.length > 0 ? spec.stderrStty.join(' ') : 'opost'} </dev/tty1 2>/dev/null`);
  // A clean unmount, so the next boot needs no journal recovery; sync in case / stays busy.
  lines.push('sync; mount -o remount,ro / 2>/dev/null');
  lines.push('poweroff -f 2>/dev/null || halt -f 2>/dev/null || echo o >/proc/sysrq-trigger');
  return `${lines.join('\n')}\n`;
}
