/**
 * Whose a file of the guest root is, and with which mode, as the guest
 * sees it and as the host keeps it.
 *
 * The guest's owner, permission and set-id bits, and what a device node
 * is, are the kernel's own metadata: the override xattr of the upper
 * file (host-layer.ts), never real host metadata. The host file itself
 * is the invoking user's, with its permission bits mirrored for whoever
 * looks at the upper directory and the owner's access added (vmctl must
 * reach it), and no set-id or sticky bit. Where there is no xattr (a
 * lower file, a symlink or FIFO, which cannot carry user xattrs, a file
 * of an upper layer written before the xattr was kept) the host metadata
 * is the truth, its ids mapped by IdMap.
 */
import type { GuestMeta, HostStat } from './host-layer.ts';
import { S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, type Stat } from './types.ts';

/**
 * Host ids as the guest sees them. Run as root, vmctl shows host ids as
 * they are; run as an ordinary user, that user's own uid and gid appear
 * as 0, so the guest user is root of its own files.
 */
export class IdMap {
  private readonly uid = process.getuid?.() ?? 0;
  private readonly gid = process.getgid?.() ?? 0;
  /** vmctl runs as root: host ids are guest ids, and chown always works */
  readonly identity = this.uid === 0;

  guestUid(h: number): number {
    return !this.identity && h === this.uid ? 0 : h;
  }

  guestGid(h: number): number {
    return !this.identity && h === this.gid ? 0 : h;
  }

  hostUid(g: number): number {
    return !this.identity && g === 0 ? this.uid : g;
  }

  hostGid(g: number): number {
    return !this.identity && g === 0 ? this.gid : g;
  }
}

/** Is a guest file of this type kept as an empty regular host file (device nodes and sockets)? */
export function keptAsRegular(type: number): boolean {
  return type !== S_IFREG && type !== S_IFDIR && type !== S_IFIFO && type !== S_IFLNK;
}

/**
 * The host mode of an upper file whose guest permission bits are `perm`:
 * those bits without set-id or sticky, and the owner's access, so that an
 * unprivileged vmctl can always open, list and change what it keeps.
 */
export function hostModeOf(hostType: number, perm: number): number {
  return (perm & 0o777) | (hostType === S_IFDIR ? 0o700 : 0o600);
}

/** The guest's view of a host file as override metadata: the xattr's, else the host's mapped. */
export function guestMetaOf(st: HostStat, ids: IdMap): GuestMeta {
  if (st.meta) return st.meta;
  return { uid: ids.guestUid(st.uid), gid: ids.guestGid(st.gid), mode: st.mode & (S_IFMT | 0o7777), rdev: st.rdev };
}

/** stat(2) of a host file as the guest sees it, with the overlay's st_dev and st_ino. */
export function guestStat(st: HostStat, ino: number, dev: number, ids: IdMap): Stat {
  const m = st.meta;
  const s: Stat = {
    dev, ino, mode: st.mode, nlink: st.nlink, uid: ids.guestUid(st.uid), gid: ids.guestGid(st.gid),
    rdev: st.rdev, size: st.size, blksize: st.blksize, blocks: st.blocks,
    atime: st.atime, mtime: st.mtime, ctime: st.ctime,
  };
  if (m) {
    s.mode = m.mode;
    s.uid = m.uid;
    s.gid = m.gid;
    // A device node or socket is an empty host file: nothing of the host's but its times and links.
    if (keptAsRegular(m.mode & S_IFMT)) {
      s.rdev = m.rdev;
      s.size = 0;
      s.blocks = 0;
    } else {
      s.rdev = 0;
    }
  }
  return s;
}
