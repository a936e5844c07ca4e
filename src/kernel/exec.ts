/**
 * execve(2): the kernel's own program loader.
 *
 * The new image is built in a fresh host process forked from the zygote:
 * its segments are mapped from the file the kernel holds, its stack is
 * mapped at the size Linux gives it and gets argv, envp and the auxiliary
 * vector (System V AMD64 ABI, 3.4.1), and the stub is unmapped, so the
 * address space holds exactly what the program would have on a bare host.
 * Only when all of that worked is the old host process killed: a failed
 * execve leaves the caller untouched.
 */
import { BatchBuilder } from '../platform/batch-builder.ts';
import type { MmOp } from '../platform/platform.ts';
import { Reg } from '../platform/regs.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE, touchesStub } from './address-space.ts';
import { NR } from './syscall-names.ts';
import { E } from './errno.ts';
import { readGuestStrings, takeStrings, type ArgSpace, type ExecStrings } from './exec-args.ts';
import { ELF_HEAD_BYTES, elfProt, ET_DYN, isElf, loadSpan, pageDown, pageUp, parseElf, PF_W, PF_X, PT_GNU_STACK,
  PT_INTERP, PT_LOAD, PT_PHDR, type ElfHeader } from './elf.ts';
import { writeU64 } from './guest-memory.ts';
import { ioContext } from './io-context.ts';
import type { Kernel } from './kernel.ts';
import { AT_FDCWD, lookupAt, openLocation, walkContext } from './lookup.ts';
import { getRlimit, RLIMIT_STACK } from './syscalls/misc.ts';
import { Task } from './task.ts';
import { locInode, locPath, resolve, type Location } from './vfs/path-walk.ts';
import { S_IFDIR, S_IFREG, type OpenFile, type Stat } from './vfs/types.ts';
import crypto from 'node:crypto';

/** Where an ET_DYN main program goes (ELF_ET_DYN_BASE without randomization). */
const PIE_BASE = 0x555555554000;
/** Where the interpreter of a dynamic program goes. */
const INTERP_BASE = 0x7ffff7dc0000;
const MAX_SHEBANG_DEPTH = 4;
/** What Linux maps below the strings when it sets up a new stack (setup_arg_pages). */
const STACK_EXPAND = 128 * 1024;

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

/** A `#!interpreter [arg]` line (execve(2), "Interpreter scripts"), as bytes. */
function parseShebang(head: Buffer): { interp: Buffer; arg?: Buffer } | number {
  let end = head.indexOf(0x0a);
  if (end < 0) end = Math.min(head.length, 256);
  const line = head.subarray(2, end).toString('latin1').replace(/^[ \t]+/, '').replace(/[ \t\r]+$/, '');
  if (line === '') return -E.ENOEXEC;
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (!m) return -E.ENOEXEC;
  const interp = Buffer.from(m[1]!, 'latin1');
  return m[2] ? { interp, arg: Buffer.from(m[2], 'latin1') } : { interp };
}

/** What to run, and from where. */
interface ExecTarget {
  path: string;
  /** for execveat: where relative paths start */
  dirfd: number;
  /** AT_SYMLINK_NOFOLLOW on the final component (execveat) */
  follow: boolean;
}

/**
 * An execve: the strings given (the first process), or where they are in
 * the caller's memory (read once the program is open, as Linux reads them).
 */
export type ExecRequest = ExecTarget & ({ argv: string[]; envp: string[] } | { argvPtr: number; envPtr: number });

/**
 * The name execve counts and shows as AT_EXECFN: the path as given, or
 * /dev/fd/N/path for a relative path from a directory fd (alloc_bprm).
 */
function execFilename(req: ExecTarget): Buffer {
  if (req.dirfd === AT_FDCWD || req.path.startsWith('/')) return Buffer.from(req.path);
  return Buffer.from(req.path === '' ? `/dev/fd/${req.dirfd}` : `/dev/fd/${req.dirfd}/${req.path}`);
}

/**
 * Replace `t`'s program. Returns 0 with `t`'s registers set for the new
 * image (and its host process swapped), or -errno with nothing changed.
 */
export function execProgram(k: Kernel, t: Task, req: ExecRequest): number {
  let loc = lookupAt(k, t, req.dirfd, req.path, req.follow);
  if (typeof loc === 'number') return loc;
  let prog = openProgram(k, t, loc);
  if (typeof prog === 'number') return prog;
  // Errors of the file come before those of the strings (do_execveat_common).
  const filename = execFilename(req);
  const rlimStack = getRlimit(t.proc, RLIMIT_STACK).cur;
  const strings = 'argv' in req
    ? takeStrings(rlimStack, filename, req.argv.map((a) => Buffer.from(a)), req.envp.map((e) => Buffer.from(e)))
    : readGuestStrings(k.mem, k.platform, t.proc.mm.hostPid, req.argvPtr, req.envPtr, rlimStack, filename);
  if (typeof strings === 'number') {
    release(prog.file);
    return strings;
  }
  let { argv } = strings;
  let interpName = filename;
  for (let depth = 0; prog.head.length >= 2 && prog.head[0] === 0x23 && prog.head[1] === 0x21; depth++) {
    const sb = depth >= MAX_SHEBANG_DEPTH ? -E.ELOOP : parseShebang(prog.head);
    release(prog.file);
    if (typeof sb === 'number') return sb;
    const scriptArgv = shebangArgv(strings.space, argv, interpName, sb);
    if (typeof scriptArgv === 'number') return scriptArgv;
    argv = scriptArgv;
    interpName = sb.interp;
    const l = resolve(walkContext(k, t), t.proc.fs.cwd, sb.interp.toString(), { followLast: true });
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
  const r = buildImage(k, t, prog, { ...strings, argv }, filename, rlimStack);
  release(prog.file);
  if (typeof r === 'number') return r;
  commitExec(k, t, r.hostPid, loc, argv, r, req.path);
  return 0;
}

/**
 * A script's argv: argv[0] goes, the script's name (the name it was run
 * by), the interpreter's argument and the interpreter come in front, and
 * their bytes count against the same limit (load_script, remove_arg_zero).
 */
function shebangArgv(space: ArgSpace, argv: Buffer[], script: Buffer, sb: { interp: Buffer; arg?: Buffer }): Buffer[] | number {
  space.give(argv[0]!.length + 1);
  const front = sb.arg ? [sb.interp, sb.arg, script] : [sb.interp, script];
  for (let i = front.length - 1; i >= 0; i--) if (!space.take(front[i]!.length + 1)) return -E.E2BIG;
  return [...front, ...argv.slice(1)];
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
 * The address-space operations that build an image in a fresh process:
 * the segments of the kernel's files, the stack, and the end of the stub.
 * They run as one stub batch, the files handed to the fresh process first
 * (Platform.injectFds: a fresh process holds no fd, so they become fds 0,
 * 1, ... and the calls can name them before the batch runs), or as one
 * helper batch (Platform.mmBatch: the kernel's own fds mapped). Nothing
 * may land on the kernel's stub page, which the fresh process already
 * holds: an image that asks for it fails as one with no room there.
 */
class ImageBatch {
  /** the calls of the stub batch, and their data */
  readonly stub: BatchBuilder;
  /** the same operations for the helper */
  readonly ops: MmOp[] = [];
  /** bss tails to zero once mapped: [address, length, writable] */
  readonly zero: [number, number, boolean][] = [];
  /** the kernel fds the fresh process gets, in fd order */
  readonly files: number[] = [];
  /** a mapping would cover the kernel's stub page */
  overStub = false;

  constructor(private readonly k: Kernel) {
    this.stub = new BatchBuilder(k.platform.batchData.start);
  }

  /** A kernel host fd to map from; returns its handle for mmap(). */
  open(kernelFd: number): { fd: number; kernelFd: number } {
    this.files.push(kernelFd);
    return { fd: this.files.length - 1, kernelFd };
  }

  mmap(addr: number, len: number, prot: number, flags: number, file: { fd: number; kernelFd: number } | undefined, off: number): void {
    if (touchesStub(this.k.platform, addr, len)) this.overStub = true;
    this.stub.call(NR.mmap, [addr, len, prot, flags, file ? file.fd : -1, off], addr);
    this.ops.push({ op: 'mmap', addr, len, prot, flags, fd: file ? file.kernelFd : -1, offset: off });
  }

  munmap(addr: number, len: number): void {
    if (touchesStub(this.k.platform, addr, len)) this.overStub = true;
    this.stub.call(NR.munmap, [addr, len], 0);
    this.ops.push({ op: 'munmap', addr, len });
  }

  /** The files are mapped: their fds in the fresh process go. */
  closeFiles(): void {
    for (let fd = 0; fd < this.files.length; fd++) this.stub.call(NR.close, [fd], 0);
  }
}

/** Queue the mapping of `h`'s PT_LOAD segments (`file`) at `bias`. */
function mapSegments(b: ImageBatch, file: { fd: number; kernelFd: number }, h: ElfHeader, bias: number): Mapped {
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
      b.mmap(mapStart, pageUp(fileEnd) - mapStart, prot, MAP_PRIVATE | MAP_FIXED, file, ph.offset - (start - mapStart));
      // The tail of the last file page belongs to .bss: zeroed once mapped.
      if (ph.memsz > ph.filesz && fileEnd % 4096 !== 0) b.zero.push([fileEnd, pageUp(fileEnd) - fileEnd, (ph.flags & PF_W) !== 0]);
      if (!phdr && h.phoff >= ph.offset && h.phoff < ph.offset + ph.filesz) phdr = start + (h.phoff - ph.offset);
    }
    const anonStart = ph.filesz > 0 ? pageUp(fileEnd) : mapStart;
    if (pageUp(memEnd) > anonStart) {
      b.mmap(anonStart, pageUp(memEnd) - anonStart, prot, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, undefined, 0);
    }
    end = Math.max(end, memEnd);
  }
  return { bias, phdr, end };
}

function hostFdOf(f: OpenFile): number {
  const fd = f.ops.hostFd?.(f);
  return fd === undefined || fd < 0 ? -E.EACCES : fd;
}

function buildImage(k: Kernel, t: Task, prog: Program, strings: ExecStrings, filename: Buffer, rlimStack: number): Image | number {
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

  const batch = new ImageBatch(k);
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
  batch.closeFiles();
  const layout = k.platform.freshLayout;
  const stack = buildStack(k, t, layout.stackEnd, strings, filename, {
    phdr: main.phdr, phnum: h.phnum, entry: bias + h.entry, base: interpBase,
  });
  mapStack(batch, layout, stack.vmaSize(rlimStack), stackProt(h));
  if (batch.overStub) return -E.ENOMEM;
  const hostPid = k.platform.helper.mmBatch.inUse ? mapWithHelper(k, batch, stack) : mapWithStub(k, batch, stack);
  if (hostPid < 0) return hostPid;
  return {
    hostPid, entry, sp: stack.sp, brk: pageUp(main.end),
    argStart: stack.argStart, argEnd: stack.argEnd, envStart: stack.envStart, envEnd: stack.envEnd,
  };
}

/**
 * The stack's protection: executable only when the program asks for it
 * with PT_GNU_STACK PF_X (on x86_64 a program without PT_GNU_STACK gets
 * a non-executable one: setup_arg_pages, elf_read_implies_exec).
 */
function stackProt(h: ElfHeader): number {
  const gnuStack = h.phdrs.find((p) => p.type === PT_GNU_STACK);
  return PROT_READ | PROT_WRITE | (gnuStack && gnuStack.flags & PF_X ? PROT_EXEC : 0);
}

/**
 * The new stack replaces the zygote's: one grows-down mapping of `size`
 * bytes ending where the zygote's ends, which the host shows as [stack]
 * (it holds the zygote's start_stack). What is left of a bigger old one
 * below it goes.
 */
function mapStack(b: ImageBatch, layout: { stackStart: number; stackEnd: number }, size: number, prot: number): void {
  const bottom = layout.stackEnd - size;
  b.mmap(bottom, size, prot, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_GROWSDOWN, undefined, 0);
  if (layout.stackStart < bottom) b.munmap(layout.stackStart, bottom - layout.stackStart);
}

/** A mapping result other than the address asked for, as execve reports it. */
function mapError(r: number): number {
  return r < 0 ? (r === -E.ENODEV ? -E.EACCES : r) : -E.ENOMEM;
}

/**
 * bss tails: zeroed with a plain write where the segment is writable,
 * else through /proc/PID/mem, which writes through page protection as
 * the kernel's own loader may (a read-only segment can end in .bss).
 */
function zeroTails(k: Kernel, hostPid: number, batch: ImageBatch): number {
  for (const [addr, len, writable] of batch.zero) {
    const zeros = Buffer.alloc(len);
    if ((writable ? k.mem.write(hostPid, addr, zeros) : k.mem.forceWrite(hostPid, addr, zeros)) < 0) return -E.EFAULT;
  }
  return 0;
}

interface StackImage {
  sp: number;
  bytes: Buffer;
  argStart: number;
  argEnd: number;
  envStart: number;
  envEnd: number;
  /** The size of the stack mapping Linux makes for these strings under RLIMIT_STACK `rlimStack`. */
  vmaSize(rlimStack: number): number;
}

/** The helper takes at most this many bytes in one write (MM_MAX_WRITE). */
const HELPER_WRITE_CHUNK = 1 << 20;

/**
 * Build the image in a fresh process with the host helper: its mappings,
 * its stack and the unmapping of the stub, in one batch; nothing of ours
 * runs in the process. Returns its host pid or -errno.
 */
function mapWithHelper(k: Kernel, batch: ImageBatch, stack: StackImage): number {
  const hostPid = k.platform.spawnFresh();
  const maps = batch.ops;
  const writes: MmOp[] = [];
  for (let o = 0; o < stack.bytes.length; o += HELPER_WRITE_CHUNK) {
    writes.push({ op: 'write', addr: stack.sp + o, bytes: stack.bytes.subarray(o, o + HELPER_WRITE_CHUNK) });
  }
  const results = k.platform.mmBatch(hostPid, [
    ...maps,
    { op: 'munmap', addr: k.platform.stubStart, len: k.platform.stubEnd - k.platform.stubStart },
    ...writes,
  ]);
  let err = typeof results === 'number' ? results : 0;
  if (typeof results !== 'number') {
    const bad = maps.findIndex((m, i) => results[i] !== (m.op === 'mmap' ? m.addr : 0));
    if (bad >= 0) err = maps[bad]!.op === 'mmap' ? mapError(results[bad]!) : results[bad]!;
    else if (results[maps.length]! < 0) err = results[maps.length]!;
    else if (results.slice(maps.length + 1).some((r) => r < 0)) err = -E.EFAULT;
  }
  if (!err) err = zeroTails(k, hostPid, batch);
  if (err) {
    k.platform.killHost(hostPid, 9);
    return err;
  }
  return hostPid;
}

/**
 * Build the image through the stub's batch runner in a fresh process:
 * the mappings, the seccomp filter, and last the unmapping of the stub
 * itself, in one round trip; then write its stack.
 */
function mapWithStub(k: Kernel, batch: ImageBatch, stack: StackImage): number {
  const hostPid = k.platform.spawnFresh();
  const fail = (err: number) => {
    k.platform.killHost(hostPid, 9);
    return err;
  };
  if (batch.files.length > 0) {
    const fd = k.platform.injectFds(hostPid, batch.files, 0);
    if (fd < 0) return fail(fd === -E.ESRCH ? -E.ENOMEM : fd);
  }
  const b = batch.stub;
  if (k.platform.guestFilter) b.installFilter(k.platform.guestFilter);
  b.call(NR.munmap, [k.platform.stubStart, k.platform.stubEnd - k.platform.stubStart], 0);
  const r = k.platform.batch(hostPid, b.calls, b.dataBlock);
  // (a fresh process gone under us: no memory for a new image, as far as execve can say)
  if (typeof r === 'number') return fail(r === -E.ESRCH ? -E.ENOMEM : r);
  if (r.done < b.calls.length) {
    const c = b.calls[r.done]!;
    return fail(c.nr === NR.mmap ? mapError(r.result) : r.result < 0 ? r.result : -E.ENOMEM);
  }
  const z = zeroTails(k, hostPid, batch);
  if (z < 0) return fail(z);
  if (k.mem.write(hostPid, stack.sp, stack.bytes) < 0) return fail(-E.EFAULT);
  return hostPid;
}

interface AuxInfo {
  phdr: number;
  phnum: number;
  entry: number;
  base: number;
}

/**
 * The initial process stack (System V AMD64 ABI figure 3.9), laid out as
 * Linux lays it out (copy_strings, create_elf_tables): from the top, a
 * NULL word, the file name, the environment and argument strings; below
 * them, 16-byte aligned, the platform string and AT_RANDOM's bytes; then
 * the auxiliary vector, envp, argv and argc down to a 16-byte aligned sp.
 */
function buildStack(k: Kernel, t: Task, top: number, strings: ExecStrings, filename: Buffer, aux: AuxInfo): StackImage {
  const { argv, envp } = strings;
  const pieces: [number, Uint8Array][] = [];
  let p = top - 8;
  const place = (b: Uint8Array) => {
    p -= b.length + 1;
    pieces.push([p, b]);
    return p;
  };
  const fn = place(filename);
  const envEnd = p;
  const envAddrs: number[] = new Array(envp.length);
  for (let i = envp.length - 1; i >= 0; i--) envAddrs[i] = place(envp[i]!);
  const envStart = p;
  const argAddrs: number[] = new Array(argv.length);
  for (let i = argv.length - 1; i >= 0; i--) argAddrs[i] = place(argv[i]!);
  const argStart = p;
  const stringsBottom = p;
  p -= p % 16;
  const platform = place(Buffer.from('x86_64'));
  p -= 16;
  const random = p;
  pieces.push([random, crypto.randomBytes(16)]);

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
  const sp = Math.floor((p - words * 8) / 16) * 16;
  const b = Buffer.alloc(top - sp);
  let o = 0;
  const put = (v: number) => { writeU64(b, o, v); o += 8; };
  put(argv.length);
  for (const a of argAddrs) put(a);
  put(0);
  for (const e of envAddrs) put(e);
  put(0);
  for (const [key, val] of auxv) { put(key); put(val); }
  for (const [addr, bytes] of pieces) b.set(bytes, addr - sp);
  return {
    sp, bytes: b, argStart, argEnd: envStart, envStart, envEnd,
    vmaSize(rlimStack: number): number {
      // setup_arg_pages: the strings' pages and 128 KiB more below them,
      // no more than RLIMIT_STACK allows; sp's page in any case.
      const strs = top - pageDown(stringsBottom);
      const rlim = Math.min(rlimStack, 2 ** 52);
      const size = Math.max(strs, Math.min(rlim - (rlim % 4096), strs + STACK_EXPAND));
      return Math.max(size, top - pageDown(sp));
    },
  };
}

/** Past the point of no return: the old image goes, the new one runs. */
function commitExec(k: Kernel, t: Task, hostPid: number, loc: Location, argv: Buffer[], img: Image, filename: string): void {
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
  p.argv = argv.map((a) => a.toString());
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

