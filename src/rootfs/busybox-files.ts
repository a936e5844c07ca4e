/**
 * The files vmctl writes into the busybox root filesystem besides busybox and
 * its applet links: the guest's /etc and its /sbin/init.
 */

export interface GeneratedFile {
  /** Path inside the root, without the leading slash. */
  path: string;
  content: string;
  mode: number;
}

/** Directories every guest expects, with the modes Debian gives them. */
export const BUSYBOX_DIRS: { path: string; mode: number }[] = [
  { path: 'bin', mode: 0o755 },
  { path: 'sbin', mode: 0o755 },
  { path: 'usr/bin', mode: 0o755 },
  { path: 'usr/sbin', mode: 0o755 },
  { path: 'etc', mode: 0o755 },
  { path: 'proc', mode: 0o555 },
  { path: 'dev', mode: 0o755 },
  { path: 'tmp', mode: 0o1777 },
  { path: 'root', mode: 0o700 },
  { path: 'home', mode: 0o755 },
  { path: 'var', mode: 0o755 },
];

/*
 * pid 1: mount the kernel's filesystems, then hand the console to a login
 * shell. The shell's exit status becomes the guest's, and so vmctl's.
 */
const INIT = String.raw`#!/bin/sh
# /sbin/init of the vmctl busybox guest: runs as pid 1.
mount -t proc proc /proc
mount -t tmpfs tmpfs /tmp
cd /root
exec /bin/sh -l
`;

const PROFILE = String.raw`# /etc/profile: read by login shells of the vmctl busybox guest.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
export HOME="${'$'}{HOME:-/root}"
export PS1='vmctl:\w\$ '
`;

export const BUSYBOX_FILES: GeneratedFile[] = [
  { path: 'sbin/init', content: INIT, mode: 0o755 },
  { path: 'etc/profile', content: PROFILE, mode: 0o644 },
  {
    path: 'etc/passwd',
    content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    mode: 0o644,
  },
  { path: 'etc/group', content: 'root:x:0:\nnogroup:x:65534:\n', mode: 0o644 },
  { path: 'etc/hostname', content: 'vmctl\n', mode: 0o644 },
  { path: 'etc/hosts', content: '127.0.0.1\tlocalhost\n::1\tlocalhost\n', mode: 0o644 },
];
