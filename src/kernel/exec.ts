/**
 * execve(2): the kernel's own program loader.
 *
 * The new image is built in a fresh host process forked from the zygote:
 * its segments are mapped from the file the kernel holds, the stack gets
 * argv, envp and the auxiliary vector (System V AMD64 ABI, 3.4.1), and the
 * stub's text is unmapped, so the address space holds exactly what the
 * program would have on a bare host. Only when all of that worked is the
 * old host process killed: a failed execve leaves the caller untouched.
 */
import { Reg } from '../platform/regs.ts';
import { AddressSpaceOps, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_WRITE } from './address-space.ts';
import { E } from './errno.ts';
import { ELF_HEAD_BYTES, elfProt, ET_DYN, isElf, loadSpan, pageDown, pageUp, parseElf, PT_INTERP, PT_LOAD,
  PT_PHDR, type ElfHeader } from './elf.ts';
import { writeU64 } from './guest-memory.ts';
import { ioContext } from './io-context.ts';
import type { Kernel } from './kernel.ts';
import { lookupAt, openLocation, walkContext } from './lookup.ts';
import { Task } from './task.ts';
import { locInode, locPath, resolve, type Location } from './vfs/path-walk.ts';
import { S_IFDIR, S_IFREG, type OpenFile, type Stat } from './vfs/types.ts';
import crypto from 'node:crypto';

/** Where an ET_DYN main program goes (ELF_ET_DYN_BASE without randomization). */
const PIE_BASE = 0x555555554000;
/** Where the interpreter of a dynamic program goes. */
const INTERP_BASE = 0x7ffff7dc0000;
const MAX_SHEBANG_DEPTH = 4;

const AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7, AT_FLAGS = 8, AT_ENTRY = 9,
  AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_PLATFORM = 15, AT_HWCAP = 16, AT_CLKTCK = 17,
  AT_SECURE = 23, AT_RANDOM = 25, AT_HWCAP2 = 26, AT_EXECFN = 31, AT_SYSINFO_EHDR = 33, AT_MINSIGSTKSZ = 51;

interface Program {
  file: OpenFile;
  loc: Location;
  head: Buffer;
}

/** Read the first bytes of a file through the VFS. */
function readHead(k: Kernel, t: Task, f: OpenFile, len: number, pos = 0): Buffer | number {
  const r = f.ops.read?.(f, ioContext(k, t), len, pos);
  if (r === undefined) return -E.EACCES;
  if (typeof r === 'number') return r;
  return Buffer.from(r.buffer, r.byteOffset, r.length);
}

function openProgram(k: Kernel, t: Task, loc: Location): Program | number {
  const inode = locInode(loc);
  if (inode.type === S_IFDIR) return -E.EACCES;
  if (inode.type !== S_IFREG) return -E.EACCES;
  const st = inode.getattr();
  if (typeof st === 'number') return st;
  if (!mayExec(t, st)) return -E.EACCES;
  const f = openLocation(k, t, loc, 0 /* O_RDONLY */);
  if (typeof f === 'number') return f;
  f.refs = 1;
  const head = readHead(k, t, f, ELF_HEAD_BYTES);
  if (typeof head === 'number') {
    release(f);
    return head;
  }
  return { file: f, loc, head };
}

function release(f: OpenFile): void {
  if (--f.refs <= 0) f.ops.release?.(f);
}

/** execute permission (even root needs one x bit: path_resolution(7)) */
function mayExec(t: Task, st: Stat): boolean {
  const c = t.proc.cred;
  if (c.euid === 0) return (st.mode & 0o111) !== 0;
  if (c.euid === st.uid) return (st.mode & 0o100) !== 0;
  if (c.egid === st.gid || c.groups.includes(st.gid)) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/** A `#!interpreter [arg]` line (execve(2), "Interpreter scripts"). */
function parseShebang(head: Buffer): { interp: string; arg?: string } | number {
  let end = head.indexOf(0x0a);
  if (end < 0) end = Math.min(head.length, 256);
  const line = head.subarray(2, end).toString('latin1').replace(/^[ \t]+/, '').replace(/[ \t\r]+$/, '');
  if (line === '') return -E.ENOEXEC;
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (!m) return -E.ENOEXEC;
  return m[2] ? { interp: m[1]!, arg: m[2] } : { interp: m[1]! };
}

export interface ExecRequest {
  path: string;
  argv: string[];
  envp: string[];
  /** for execveat: where relative paths start */
  dirfd: number;
  /** AT_SYMLINK_NOFOLLOW on the final component (execveat) */
  follow: boolean;
}

/**
 * Replace `t`'s program. Returns 0 with `t`'s registers set for the new
 * image (and its host process swapped), or -errno with nothing changed.
 */
export function execProgram(k: Kernel, t: Task, req: ExecRequest): number {
  let { path, argv } = req;
  let loc = lookupAt(k, t, req.dirfd, path, req.follow);
  if (typeof loc === 'number') return loc;
  let prog = openProgram(k, t, loc);
  if (typeof prog === 'number') return prog;
  const execfn = path;
  for (let depth = 0; prog.head.length >= 2 && prog.head[0] === 0x23 && prog.head[1] === 0x21; depth++) {
    if (depth >= MAX_SHEBANG_DEPTH) {
      release(prog.file);
      return -E.ELOOP;
    }
    const sb = parseShebang(prog.head);
    release(prog.file);
    if (typeof sb === 'number') return sb;
    argv = [sb.interp, ...(sb.arg !== undefined ? [sb.arg] : []), path, ...argv.slice(1)];
    path = sb.interp;
    const l = resolve(walkContext(k, t), t.proc.fs.cwd, sb.interp, { followLast: true });
    if (typeof l === 'number') return l;
    loc = l;
    const p = openProgram(k, t, loc);
    if (typeof p === 'number') return p;
    prog = p;
  }
  if (!isElf(prog.head)) {
    release(prog.file);
    return -E.ENOEXEC;
  }
  const r = buildImage(k, t, prog, argv, req.envp, execfn);
  release(prog.file);
  if (typeof r === 'number') return r;
  commitExec(k, t, r.hostPid, loc, argv, r, req.path);
  return 0;
}

interface Image {
  hostPid: number;
  entry: number;
  sp: number;
  brk: number;
  argStart: number;
  argEnd: number;
  envStart: number;
  envEnd: number;
}

interface Mapped {
  bias: number;
  phdr: number;
  end: number;
}

/** Map the PT_LOAD segments of `h` (file `f`) at `bias` in the fresh process. */
function mapSegments(k: Kernel, as: AddressSpaceOps, hostPid: number, f: OpenFile, h: ElfHeader, bias: number,
  scratch: number): Mapped | number {
  const hostFd = f.ops.hostFd?.(f);
  if (hostFd === undefined || hostFd < 0) return -E.EACCES;
  const gfd = as.openKernelFile(hostFd, false, scratch);
  if (gfd < 0) return gfd;
  let end = 0;
  let phdr = 0;
  try {
    for (const ph of h.phdrs) {
      if (ph.type === PT_PHDR) phdr = bias + ph.vaddr;
      if (ph.type !== PT_LOAD) continue;
      const prot = elfProt(ph.flags);
      const start = bias + ph.vaddr;
      const mapStart = pageDown(start);
      const fileEnd = start + ph.filesz;
      const memEnd = start + ph.memsz;
      if (ph.filesz > 0) {
        const len = pageUp(fileEnd) - mapStart;
        const r = as.mmap(mapStart, len, prot | (ph.memsz > ph.filesz ? PROT_WRITE : 0), MAP_PRIVATE | MAP_FIXED, gfd,
          ph.offset - (start - mapStart));
        if (r < 0) return r;
        // The tail of the last file page belongs to .bss: zero it.
        if (ph.memsz > ph.filesz && fileEnd % 4096 !== 0) {
          const zeros = Buffer.alloc(pageUp(fileEnd) - fileEnd);
          if (k.mem.forceWrite(hostPid, fileEnd, zeros) < 0) return -E.EFAULT;
        }
        if (ph.memsz > ph.filesz && !(prot & PROT_WRITE)) as.mprotect(mapStart, len, prot);
        if (ph.offset === 0 && !phdr) phdr = start + h.phoff;
        else if (!phdr && h.phoff >= ph.offset && h.phoff < ph.offset + ph.filesz) phdr = start + (h.phoff - ph.offset);
      }
      const anonStart = ph.filesz > 0 ? pageUp(fileEnd) : mapStart;
      if (pageUp(memEnd) > anonStart) {
        const r = as.mmap(anonStart, pageUp(memEnd) - anonStart, prot, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
        if (r < 0) return r;
      }
      end = Math.max(end, memEnd);
    }
  } finally {
    as.close(gfd);
  }
  return { bias, phdr, end };
}

function buildImage(k: Kernel, t: Task, prog: Program, argv: string[], envp: string[], execfn: string): Image | number {
  const h = parseElf(prog.head);
  if (typeof h === 'number') return h;
  const interpPh = h.phdrs.find((p) => p.type === PT_INTERP);
  let interp: { prog: Program; h: ElfHeader } | undefined;
  if (interpPh) {
    const raw = interpPh.offset + interpPh.filesz <= prog.head.length
      ? prog.head.subarray(interpPh.offset, interpPh.offset + interpPh.filesz)
      : readHead(k, t, prog.file, interpPh.filesz, interpPh.offset);
    if (typeof raw === 'number') return raw;
    const ipath = Buffer.from(raw).toString('latin1').replace(/\0.*$/s, '');
    const iloc = resolve(walkContext(k, t), t.proc.fs.root, ipath, { followLast: true });
    if (typeof iloc === 'number') return iloc === -E.ENOENT ? -E.ENOENT : iloc;
    const ip = openProgram(k, t, iloc);
    if (typeof ip === 'number') return ip;
    const ih = parseElf(ip.head);
    if (typeof ih === 'number' || ih.type !== ET_DYN) {
      release(ip.file);
      return -E.ELIBBAD;
    }
    interp = { prog: ip, h: ih };
  }

  const layout = k.platform.freshLayout;
  const hostPid = k.platform.spawnFresh();
  const as = new AddressSpaceOps(k.platform, hostPid, k.platform.stubSyscallRip);
  // Scratch for path strings: the top of the fresh stack, rewritten below.
  const scratch = layout.stackEnd - 256;
  const fail = (err: number) => {
    k.platform.killHost(hostPid, 9);
    if (interp) release(interp.prog.file);
    return err;
  };

  const bias = h.type === ET_DYN ? PIE_BASE - loadSpan(h).lo : 0;
  const main = mapSegments(k, as, hostPid, prog.file, h, bias, scratch);
  if (typeof main === 'number') return fail(main);
  let entry = bias + h.entry;
  let interpBase = 0;
  if (interp) {
    const span = loadSpan(interp.h);
    const ibias = INTERP_BASE - span.lo;
    const im = mapSegments(k, as, hostPid, interp.prog.file, interp.h, ibias, scratch);
    if (typeof im === 'number') return fail(im);
    interpBase = ibias + span.lo;
    entry = ibias + interp.h.entry;
    release(interp.prog.file);
    interp = undefined;
  }
  const stack = buildStack(k, t, layout.stackEnd, argv, envp, execfn, {
    phdr: main.phdr, phnum: h.phnum, entry: bias + h.entry, base: interpBase,
  });
  if (k.mem.write(hostPid, stack.sp, stack.bytes) < 0) return fail(-E.E2BIG);
  const r = as.munmap(k.platform.stubStart, k.platform.stubEnd - k.platform.stubStart);
  if (r < 0) return fail(r);
  const brk = pageUp(main.end);
  return {
    hostPid, entry, sp: stack.sp, brk,
    argStart: stack.argStart, argEnd: stack.argEnd, envStart: stack.envStart, envEnd: stack.envEnd,
  };
}

interface AuxInfo {
  phdr: number;
  phnum: number;
  entry: number;
  base: number;
}

/** The initial process stack (System V AMD64 ABI figure 3.9), built top-down. */
function buildStack(k: Kernel, t: Task, top: number, argv: string[], envp: string[], execfn: string, aux: AuxInfo) {
  const strings: Buffer[] = [];
  let size = 0;
  const place = (b: Buffer) => { strings.push(b); size += b.length; return top - size; };
  const random = place(crypto.randomBytes(16));
  const platform = place(Buffer.from('x86_64\0'));
  const fn = place(Buffer.from(execfn + '\0'));
  const envAddrs: number[] = [];
  for (let i = envp.length - 1; i >= 0; i--) envAddrs.unshift(place(Buffer.from(envp[i] + '\0')));
  const argAddrs: number[] = [];
  for (let i = argv.length - 1; i >= 0; i--) argAddrs.unshift(place(Buffer.from(argv[i] + '\0')));
  const strBottom = top - size;

  const c = t.proc.cred;
  const hostAux = k.platform.hostAuxv;
  const auxv: [number, number][] = [
    [AT_SYSINFO_EHDR, k.platform.freshLayout.vdso],
    [AT_MINSIGSTKSZ, hostAux.get(AT_MINSIGSTKSZ) ?? 2048],
    [AT_HWCAP, hostAux.get(AT_HWCAP) ?? 0],
    [AT_PAGESZ, 4096],
    [AT_CLKTCK, 100],
    [AT_PHDR, aux.phdr],
    [AT_PHENT, 56],
    [AT_PHNUM, aux.phnum],
    [AT_BASE, aux.base],
    [AT_FLAGS, 0],
    [AT_ENTRY, aux.entry],
    [AT_UID, c.uid],
    [AT_EUID, c.euid],
    [AT_GID, c.gid],
    [AT_EGID, c.egid],
    [AT_SECURE, 0],
    [AT_RANDOM, random],
    [AT_HWCAP2, hostAux.get(AT_HWCAP2) ?? 0],
    [AT_EXECFN, fn],
    [AT_PLATFORM, platform],
    [0, 0],
  ];
  const words = 1 + argv.length + 1 + envp.length + 1 + auxv.length * 2;
  let sp = Math.floor((strBottom - words * 8) / 16) * 16;
  const total = top - sp;
  const b = Buffer.alloc(total);
  let o = 0;
  const put = (v: number) => { writeU64(b, o, v); o += 8; };
  put(argv.length);
  for (const a of argAddrs) put(a);
  put(0);
  for (const e of envAddrs) put(e);
  put(0);
  for (const [key, val] of auxv) { put(key); put(val); }
  // strings were placed top-down; copy each at its address
  let addr = top;
  for (const s of strings) {
    addr -= s.length;
    s.copy(b, addr - sp);
  }
  const argStart = argAddrs[0] ?? strBottom;
  const argEnd = argv.length ? argAddrs[argv.length - 1]! + Buffer.byteLength(argv[argv.length - 1]!) + 1 : argStart;
  const envStart = envAddrs[0] ?? argEnd;
  const envEnd = envp.length ? envAddrs[envp.length - 1]! + Buffer.byteLength(envp[envp.length - 1]!) + 1 : envStart;
  return { sp, bytes: b, argStart, argEnd, envStart, envEnd };
}

/** Past the point of no return: the old image goes, the new one runs. */
function commitExec(k: Kernel, t: Task, hostPid: number, loc: Location, argv: string[], img: Image, filename: string): void {
  const p = t.proc;
  const oldHost = p.mm.hostPid;
  // Other threads vanish (execve(2): "All threads other than the calling thread are destroyed").
  for (const other of [...p.threads]) {
    if (other === t) continue;
    p.threads.delete(other);
    k.unregisterTask(other);
  }
  if (oldHost > 0) k.platform.killHost(oldHost, 9);
  k.rehost(t, hostPid);
  p.mm = {
    hostPid, brkStart: img.brk, brk: img.brk, exePath: locPath(loc), exeInode: locInode(loc),
    argStart: img.argStart, argEnd: img.argEnd, envStart: img.envStart, envEnd: img.envEnd, startStack: img.sp,
  };
  p.argv = argv;
  p.execed = true;
  p.files.closeOnExec();
  if (p.sighand.actions.length) {
    p.sighand = p.sighand.clone();
    p.sighand.resetForExec();
  }
  t.altStack = { sp: 0, size: 0, flags: 2 };
  t.clearChildTid = 0;
  // comm is the basename of the name execve was given, not of a symlink's target.
  p.comm = (filename.split('/').filter(Boolean).pop() ?? '').slice(0, 15);
  const vf = p.vforkDone;
  p.vforkDone = undefined;
  vf?.wakeAll();

  const r = t.regs;
  k.platform.getRegs(hostPid, r);
  for (const reg of [Reg.R15, Reg.R14, Reg.R13, Reg.R12, Reg.RBP, Reg.RBX, Reg.R11, Reg.R10, Reg.R9, Reg.R8,
    Reg.RAX, Reg.RCX, Reg.RDX, Reg.RSI, Reg.RDI, Reg.FS_BASE, Reg.GS_BASE]) r.set(reg, 0);
  r.set(Reg.ORIG_RAX, -1);
  r.set(Reg.RIP, img.entry);
  r.set(Reg.RSP, img.sp);
  r.set(Reg.EFLAGS, 0x202);
}

