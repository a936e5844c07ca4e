/**
 * User and group identity syscalls (credentials(7)).
 *
 * Privilege is modelled the classic way: a process whose effective uid is
 * 0 holds CAP_SETUID and CAP_SETGID; any other process may only move
 * between the ids it already has. The saved set-user-ID and
 * set-group-ID are not fields of Cred (vfs/types.ts), so they live here,
 * per process; fork and execve keep them right through `idsOnFork` and
 * `idsOnExec`. A credential change replaces `p.cred` with a new object, so
 * a Cred shared by reference is never changed under its other holders.
 */
import { E } from '../errno.ts';
import type { Kernel } from '../kernel.ts';
import type { Process, Task } from '../task.ts';
import type { Cred } from '../vfs/types.ts';
import type { SyscallFamily } from './table.ts';

/** NGROUPS_MAX */
export const NGROUPS_MAX = 65536;
/** (uid_t)-1: "leave unchanged" for the set*id calls; never a valid id. */
const NO_ID = 0xffffffff;

export interface SavedIds {
  suid: number;
  sgid: number;
}

const saved = new WeakMap<Process, SavedIds>();

/** The saved set-user-ID and set-group-ID of `p` (the effective ids until something set them). */
export function savedIds(p: Process): SavedIds {
  let s = saved.get(p);
  if (!s) {
    s = { suid: p.cred.euid, sgid: p.cred.egid };
    saved.set(p, s);
  }
  return s;
}

/** fork(2)/clone(2) of a new process: the child has the parent's saved ids. */
export function idsOnFork(parent: Process, child: Process): void {
  const s = savedIds(parent);
  saved.set(child, { suid: s.suid, sgid: s.sgid });
}

/** execve(2): the saved ids become copies of the effective ones (set-user-ID bits are not honoured). */
export function idsOnExec(p: Process): void {
  saved.set(p, { suid: p.cred.euid, sgid: p.cred.egid });
}

/** Is `p` privileged for identity changes (CAP_SETUID / CAP_SETGID)? */
function privileged(p: Process): boolean {
  return p.cred.euid === 0;
}

function setCred(p: Process, change: Partial<Cred>): void {
  p.cred = { ...p.cred, ...change, groups: change.groups ?? [...p.cred.groups] };
}

// ----- getters -----

/** Getuid implements Linux syscall getuid(2). */
function sysGetuid(_k: Kernel, t: Task): number {
  return t.proc.cred.uid;
}

/** Geteuid implements Linux syscall geteuid(2). */
function sysGeteuid(_k: Kernel, t: Task): number {
  return t.proc.cred.euid;
}

/** Getgid implements Linux syscall getgid(2). */
function sysGetgid(_k: Kernel, t: Task): number {
  return t.proc.cred.gid;
}

/** Getegid implements Linux syscall getegid(2). */
function sysGetegid(_k: Kernel, t: Task): number {
  return t.proc.cred.egid;
}

/** Write three u32 ids to three guest pointers (getresuid, getresgid). */
function putIds(k: Kernel, t: Task, ptrs: number[], ids: number[]): number {
  const pid = t.proc.mm.hostPid;
  for (let i = 0; i < 3; i++) {
    if (k.mem.writeU32(pid, ptrs[i]!, ids[i]!) < 0) return -E.EFAULT;
  }
  return 0;
}

/** Getresuid implements Linux syscall getresuid(2). */
function sysGetresuid(k: Kernel, t: Task, ruid: number, euid: number, suid: number): number {
  const c = t.proc.cred;
  return putIds(k, t, [ruid, euid, suid], [c.uid, c.euid, savedIds(t.proc).suid]);
}

/** Getresgid implements Linux syscall getresgid(2). */
function sysGetresgid(k: Kernel, t: Task, rgid: number, egid: number, sgid: number): number {
  const c = t.proc.cred;
  return putIds(k, t, [rgid, egid, sgid], [c.gid, c.egid, savedIds(t.proc).sgid]);
}

// ----- user ids -----

/**
 * Setuid implements Linux syscall setuid(2): privileged, it sets the real,
 * effective, saved and filesystem uids; otherwise only the effective (and
 * filesystem) uid, and only to the real or saved uid.
 */
function sysSetuid(_k: Kernel, t: Task, uid: number): number {
  const id = uid >>> 0;
  if (id === NO_ID) return -E.EINVAL;
  const p = t.proc;
  const s = savedIds(p);
  if (privileged(p)) {
    setCred(p, { uid: id, euid: id, fsuid: id });
    s.suid = id;
    return 0;
  }
  if (id !== p.cred.uid && id !== s.suid) return -E.EPERM;
  setCred(p, { euid: id, fsuid: id });
  return 0;
}

/**
 * Setreuid implements Linux syscall setreuid(2). -1 leaves an id as it is.
 * Unprivileged, the real uid may become the real or effective uid, and the
 * effective uid the real, effective or saved uid. The saved uid follows
 * the new effective uid when the real uid is set or the effective uid
 * becomes something other than the old real uid.
 */
function sysSetreuid(_k: Kernel, t: Task, ruid: number, euid: number): number {
  const r = ruid >>> 0, e = euid >>> 0;
  const p = t.proc;
  const c = p.cred;
  const s = savedIds(p);
  const priv = privileged(p);
  if (r !== NO_ID && !priv && r !== c.uid && r !== c.euid) return -E.EPERM;
  if (e !== NO_ID && !priv && e !== c.uid && e !== c.euid && e !== s.suid) return -E.EPERM;
  const newUid = r !== NO_ID ? r : c.uid;
  const newEuid = e !== NO_ID ? e : c.euid;
  if (r !== NO_ID || (e !== NO_ID && e !== c.uid)) s.suid = newEuid;
  setCred(p, { uid: newUid, euid: newEuid, fsuid: newEuid });
  return 0;
}

/**
 * Setresuid implements Linux syscall setresuid(2). Unprivileged, each id
 * given (not -1) must be one of the current real, effective or saved uids.
 */
function sysSetresuid(_k: Kernel, t: Task, ruid: number, euid: number, suid: number): number {
  const r = ruid >>> 0, e = euid >>> 0, sv = suid >>> 0;
  const p = t.proc;
  const c = p.cred;
  const s = savedIds(p);
  if (!privileged(p)) {
    const mine = (id: number) => id === NO_ID || id === c.uid || id === c.euid || id === s.suid;
    if (!mine(r) || !mine(e) || !mine(sv)) return -E.EPERM;
  }
  const newEuid = e !== NO_ID ? e : c.euid;
  setCred(p, { uid: r !== NO_ID ? r : c.uid, euid: newEuid, fsuid: newEuid });
  if (sv !== NO_ID) s.suid = sv;
  return 0;
}

/**
 * Setfsuid implements Linux syscall setfsuid(2): returns the previous
 * filesystem uid whether or not the change was allowed (it is allowed when
 * privileged or to the real, effective, saved or current filesystem uid).
 */
function sysSetfsuid(_k: Kernel, t: Task, fsuid: number): number {
  const id = fsuid >>> 0;
  const p = t.proc;
  const c = p.cred;
  const old = c.fsuid;
  if (id === NO_ID) return old;
  if (privileged(p) || id === c.uid || id === c.euid || id === savedIds(p).suid || id === c.fsuid) {
    if (id !== old) setCred(p, { fsuid: id });
  }
  return old;
}

// ----- group ids -----

/** Setgid implements Linux syscall setgid(2), the group counterpart of setuid(2). */
function sysSetgid(_k: Kernel, t: Task, gid: number): number {
  const id = gid >>> 0;
  if (id === NO_ID) return -E.EINVAL;
  const p = t.proc;
  const s = savedIds(p);
  if (privileged(p)) {
    setCred(p, { gid: id, egid: id, fsgid: id });
    s.sgid = id;
    return 0;
  }
  if (id !== p.cred.gid && id !== s.sgid) return -E.EPERM;
  setCred(p, { egid: id, fsgid: id });
  return 0;
}

/** Setregid implements Linux syscall setregid(2), the group counterpart of setreuid(2). */
function sysSetregid(_k: Kernel, t: Task, rgid: number, egid: number): number {
  const r = rgid >>> 0, e = egid >>> 0;
  const p = t.proc;
  const c = p.cred;
  const s = savedIds(p);
  const priv = privileged(p);
  if (r !== NO_ID && !priv && r !== c.gid && r !== c.egid) return -E.EPERM;
  if (e !== NO_ID && !priv && e !== c.gid && e !== c.egid && e !== s.sgid) return -E.EPERM;
  const newGid = r !== NO_ID ? r : c.gid;
  const newEgid = e !== NO_ID ? e : c.egid;
  if (r !== NO_ID || (e !== NO_ID && e !== c.gid)) s.sgid = newEgid;
  setCred(p, { gid: newGid, egid: newEgid, fsgid: newEgid });
  return 0;
}

/** Setresgid implements Linux syscall setresgid(2), the group counterpart of setresuid(2). */
function sysSetresgid(_k: Kernel, t: Task, rgid: number, egid: number, sgid: number): number {
  const r = rgid >>> 0, e = egid >>> 0, sv = sgid >>> 0;
  const p = t.proc;
  const c = p.cred;
  const s = savedIds(p);
  if (!privileged(p)) {
    const mine = (id: number) => id === NO_ID || id === c.gid || id === c.egid || id === s.sgid;
    if (!mine(r) || !mine(e) || !mine(sv)) return -E.EPERM;
  }
  const newEgid = e !== NO_ID ? e : c.egid;
  setCred(p, { gid: r !== NO_ID ? r : c.gid, egid: newEgid, fsgid: newEgid });
  if (sv !== NO_ID) s.sgid = sv;
  return 0;
}

/** Setfsgid implements Linux syscall setfsgid(2), the group counterpart of setfsuid(2). */
function sysSetfsgid(_k: Kernel, t: Task, fsgid: number): number {
  const id = fsgid >>> 0;
  const p = t.proc;
  const c = p.cred;
  const old = c.fsgid;
  if (id === NO_ID) return old;
  if (privileged(p) || id === c.gid || id === c.egid || id === savedIds(p).sgid || id === c.fsgid) {
    if (id !== old) setCred(p, { fsgid: id });
  }
  return old;
}

// ----- supplementary groups -----

/**
 * Getgroups implements Linux syscall getgroups(2): with size 0 it returns
 * the number of groups; a size smaller than that is EINVAL.
 */
function sysGetgroups(k: Kernel, t: Task, size: number, list: number): number {
  const n = size | 0;
  if (n < 0) return -E.EINVAL;
  const groups = t.proc.cred.groups;
  if (n === 0) return groups.length;
  if (n < groups.length) return -E.EINVAL;
  if (groups.length === 0) return 0;
  const b = Buffer.alloc(4 * groups.length);
  groups.forEach((g, i) => b.writeUInt32LE(g >>> 0, 4 * i));
  const r = k.mem.write(t.proc.mm.hostPid, list, b);
  return r < 0 ? r : groups.length;
}

/**
 * Setgroups implements Linux syscall setgroups(2): privileged only (EPERM),
 * at most NGROUPS_MAX groups (EINVAL). The list is kept sorted, as Linux
 * keeps it, so getgroups(2) returns it sorted.
 */
function sysSetgroups(k: Kernel, t: Task, size: number, list: number): number {
  const p = t.proc;
  if (!privileged(p)) return -E.EPERM;
  const n = size | 0;
  if (n < 0 || n > NGROUPS_MAX) return -E.EINVAL;
  const groups: number[] = [];
  if (n > 0) {
    const b = k.mem.read(p.mm.hostPid, list, 4 * n);
    if (typeof b === 'number') return b;
    for (let i = 0; i < n; i++) groups.push(b.readUInt32LE(4 * i));
    groups.sort((a, b2) => a - b2);
  }
  setCred(p, { groups });
  return 0;
}

export const idSyscalls: SyscallFamily = {
  getuid: sysGetuid, geteuid: sysGeteuid, getgid: sysGetgid, getegid: sysGetegid,
  setuid: sysSetuid, setgid: sysSetgid, setreuid: sysSetreuid, setregid: sysSetregid,
  setresuid: sysSetresuid, setresgid: sysSetresgid, getresuid: sysGetresuid, getresgid: sysGetresgid,
  setfsuid: sysSetfsuid, setfsgid: sysSetfsgid, getgroups: sysGetgroups, setgroups: sysSetgroups,
};
