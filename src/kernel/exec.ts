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
import type { BatchCall, MmOp } from '../platform/platform.ts';
import { AddressSpaceOps, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE } from './address-space.ts';
import { NR } from './syscall-names.ts';
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

/**
 * The calls that build an image in a fresh process, made in one batch
 * (Platform.batch): opening the kernel's files through /proc/KPID/fd,
 * mapping segments, closing. A fresh process holds no fd, so the n-th
 * open gets fd n-1: later calls can name it before the batch runs.
 */
class ImageBatch {
  readonly calls: BatchCall[] = [];
  /** bss tails to zero once mapped: [address, length] */
  readonly zero: [number, number][] = [];
  /** the kernel's host fd behind each open, by the fd the fresh process gets */
  readonly kernelFds: number[] = [];
  private strings: Buffer[] = [];
  private stringBytes = 0;
  private opens = 0;

  constructor(private readonly kernelPid: number, private readonly scratchTop: number) {}

  /** open(2) of the kernel's host fd; returns the fd the fresh process will get. */
  open(kernelFd: number): number {
    const path = Buffer.from(`/proc/${this.kernelPid}/fd/${kernelFd}\0`);
    this.strings.push(path);
    this.stringBytes += path.length;
    this.calls.push({ nr: NR.open, args: [this.scratchTop - this.stringBytes, 0o2000000 /* O_CLOEXEC */, 0] });
    this.kernelFds.push(kernelFd);
    return this.opens++;
  }

  /**
   * The same image as address-space operations for the host helper
   * (Platform.mmBatch): the kernel's own fds are mapped directly, nothing
   * is opened in the fresh process.
   */
  mmOps(): MmOp[] {
    const ops: MmOp[] = [];
    for (const c of this.calls) {
      if (c.nr !== NR.mmap) continue;
      const [addr, len, prot, flags, fd, offset] = c.args as [number, number, number, number, number, number];
      ops.push({ op: 'mmap', addr, len, prot, flags, fd: fd < 0 ? -1 : this.kernelFds[fd]!, offset });
    }
    return ops;
  }

  mmap(addr: number, len: number, prot: number, flags: number, fd: number, off: number): void {
    this.calls.push({ nr: NR.mmap, args: [addr, len, prot, flags, fd, off] });
  }

  close(fd: number): void {
    this.calls.push({ nr: NR.close, args: [fd] });
  }

  /** The path strings, to be written just below `scratchTop`. */
  stringBlock(): { addr: number; bytes: Buffer } {
    const bytes = Buffer.concat([...this.strings].reverse());
    return { addr: this.scratchTop - this.stringBytes, bytes };
  }

  /** Where the call table goes: below the strings, 64-byte aligned. */
  tableAddr(): number {
    return Math.floor((this.scratchTop - this.stringBytes - 64 * this.calls.length) / 64) * 64;
  }
}

/** Queue the mapping of `h`'s PT_LOAD segments (file `fd` in the fresh process) at `bias`. */
function mapSegments(b: ImageBatch, fd: number, h: ElfHeader, bias: number): Mapped {
  let end = 0;
  let phdr = 0;
  for (const ph of h.phdrs) {
    if (ph.type === PT_PHDR) phdr = bias + ph.vaddr;
    if (ph.type !== PT_LOAD) continue;
    const prot = elfProt(ph.flags);
    const start = bias + ph.vaddr;
    const mapStart = pageDown(start);
    const fileEnd = start + ph.filesz;
    const memEnd = start + ph.memsz;
    if (ph.filesz > 0) {
      b.mmap(mapStart, pageUp(fileEnd) - mapStart, prot, MAP_PRIVATE | MAP_FIXED, fd, ph.offset - (start - mapStart));
      // The tail of the last file page belongs to .bss: zeroed once mapped.
      if (ph.memsz > ph.filesz && fileEnd % 4096 !== 0) b.zero.push([fileEnd, pageUp(fileEnd) - fileEnd]);
      if (!phdr && h.phoff >= ph.offset && h.phoff < ph.offset + ph.filesz) phdr = start + (h.phoff - ph.offset);
    }
    const anonStart = ph.filesz > 0 ? pageUp(fileEnd) : mapStart;
    if (pageUp(memEnd) > anonStart) {
      b.mmap(anonStart, pageUp(memEnd) - anonStart, prot, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
    }
    end = Math.max(end, memEnd);
  }
  return { bias, phdr, end };
}

function hostFdOf(f: OpenFile): number {
  const fd = f.ops.hostFd?.(f);
  return fd === undefined || fd < 0 ? -E.EACCES : fd;
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
    if (typeof iloc === 'number') return iloc;
    const ip = openProgram(k, t, iloc);
    if (typeof ip === 'number') return ip;
    const ih = parseElf(ip.head);
    if (typeof ih === 'number' || ih.type !== ET_DYN) {
      release(ip.file);
      return -E.ELIBBAD;
    }
    interp = { prog: ip, h: ih };
  }
  const mainFd = hostFdOf(prog.file);
  const interpFd = interp ? hostFdOf(interp.prog.file) : 0;
  if (mainFd < 0 || interpFd < 0) {
    if (interp) release(interp.prog.file);
    return -E.EACCES;
  }

  const layout = k.platform.freshLayout;
  const batch = new ImageBatch(k.platform.kernelHostPid, layout.stackEnd - 64);
  const bias = h.type === ET_DYN ? PIE_BASE - loadSpan(h).lo : 0;
  const main = mapSegments(batch, batch.open(mainFd), h, bias);
  let entry = bias + h.entry;
  let interpBase = 0;
  if (interp) {
    const span = loadSpan(interp.h);
    const ibias = INTERP_BASE - span.lo;
    mapSegments(batch, batch.open(interpFd), interp.h, ibias);
    interpBase = ibias + span.lo;
    entry = ibias + interp.h.entry;
    release(interp.prog.file);
  }
  batch.close(0);
  if (interp) batch.close(1);
  const stack = buildStack(k, t, layout.stackEnd, argv, envp, execfn, {
    phdr: main.phdr, phnum: h.phnum, entry: bias + h.entry, base: interpBase,
  });
  const hostPid = k.platform.helper.mmBatch.inUse ? mapWithHelper(k, batch, stack) : mapWithStub(k, batch, stack);
  if (hostPid < 0) return hostPid;
  return {
    hostPid, entry, sp: stack.sp, brk: pageUp(main.end),
    argStart: stack.argStart, argEnd: stack.argEnd, envStart: stack.envStart, envEnd: stack.envEnd,
  };
}

/** A mapping result other than the address asked for, as execve reports it. */
function mapError(r: number): number {
  return r < 0 ? (r === -E.ENODEV ? -E.EACCES : r) : -E.ENOMEM;
}

/**
 * bss tails: zeroed through /proc/PID/mem, which writes through page
 * protection as the kernel's own loader may (a read-only segment can
 * end in .bss).
 */
function zeroTails(k: Kernel, hostPid: number, batch: ImageBatch): number {
  for (const [addr, len] of batch.zero) {
    if (k.mem.forceWrite(hostPid, addr, Buffer.alloc(len)) < 0) return -E.EFAULT;
  }
  return 0;
}

interface StackImage {
  sp: number;
  bytes: Buffer;
}

/**
 * Build the image in a fresh process with the host helper: its mappings,
 * its stack and the unmapping of the stub in one call; nothing of ours
 * runs in the process. Returns its host pid or -errno.
 */
function mapWithHelper(k: Kernel, batch: ImageBatch, stack: StackImage): number {
  const hostPid = k.platform.spawnFresh();
  const maps = batch.mmOps();
  const results = k.platform.mmBatch(hostPid, [
    ...maps,
    { op: 'munmap', addr: k.platform.stubStart, len: k.platform.stubEnd - k.platform.stubStart },
    { op: 'write', addr: stack.sp, bytes: stack.bytes },
  ]);
  let err = typeof results === 'number' ? results : 0;
  if (typeof results !== 'number') {
    const bad = maps.findIndex((m, i) => results[i] !== m.addr);
    if (bad >= 0) err = mapError(results[bad]!);
    else if (results[maps.length]! < 0) err = results[maps.length]!;
    else if (results[maps.length + 1]! < 0) err = -E.E2BIG;
  }
  if (!err) err = zeroTails(k, hostPid, batch);
  if (err) {
    k.platform.killHost(hostPid, 9);
    return err;
  }
  return hostPid;
}

/**
 * Build the image through the stub's batch runner in a fresh process,
 * then write its stack and unmap the stub by injection.
 */
function mapWithStub(k: Kernel, batch: ImageBatch, stack: StackImage): number {
  const hostPid = k.platform.spawnFresh();
  const fail = (err: number) => {
    k.platform.killHost(hostPid, 9);
    return err;
  };
  const strs = batch.stringBlock();
  if (k.mem.write(hostPid, strs.addr, strs.bytes) < 0) return fail(-E.ENOMEM);
  const results = k.platform.batch(hostPid, batch.calls, batch.tableAddr());
  // (a fresh process gone under us: no memory for a new image, as far as execve can say)
  if (typeof results === 'number') return fail(results === -E.ESRCH ? -E.ENOMEM : results);
  for (let i = 0; i < results.length; i++) {
    const c = batch.calls[i]!, r = results[i]!;
    if (c.nr === NR.open && r < 0) return fail(r);
    if (c.nr === NR.mmap && r !== c.args[0]) return fail(mapError(r));
  }
  const z = zeroTails(k, hostPid, batch);
  if (z < 0) return fail(z);
  if (k.mem.write(hostPid, stack.sp, stack.bytes) < 0) return fail(-E.E2BIG);
  const as = new AddressSpaceOps(k.platform, hostPid, k.platform.stubSyscallRip);
  const r = as.munmap(k.platform.stubStart, k.platform.stubEnd - k.platform.stubStart);
  return r < 0 ? fail(r) : hostPid;
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

