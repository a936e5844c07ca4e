/**
 * ELF64 headers as the loader needs them (elf(5)); x86_64 only.
 */
import { E } from './errno.ts';
import { readU64 } from './guest-memory.ts';

export const PT_LOAD = 1, PT_INTERP = 3, PT_PHDR = 6, PT_GNU_STACK = 0x6474e551;
export const PF_X = 1, PF_W = 2, PF_R = 4;
export const ET_EXEC = 2, ET_DYN = 3;
const EM_X86_64 = 62;

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

export interface ElfHeader {
  type: number;
  entry: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  phdrs: ProgramHeader[];
}

/** Bytes of the file the loader reads up front: the header and program headers. */
export const ELF_HEAD_BYTES = 4096;

export function isElf(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/** Parse and validate; -ENOEXEC for anything this kernel cannot run. */
export function parseElf(head: Buffer): ElfHeader | number {
  if (head.length < 64 || !isElf(head)) return -E.ENOEXEC;
  if (head[4] !== 2 /* ELFCLASS64 */ || head[5] !== 1 /* little endian */ || head[6] !== 1) return -E.ENOEXEC;
  const type = head.readUInt16LE(16);
  if (type !== ET_EXEC && type !== ET_DYN) return -E.ENOEXEC;
  if (head.readUInt16LE(18) !== EM_X86_64) return -E.ENOEXEC;
  const entry = readU64(head, 24);
  const phoff = readU64(head, 32);
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  if (phentsize !== 56 || phnum === 0 || phnum > 64) return -E.ENOEXEC;
  if (phoff + phnum * phentsize > head.length) return -E.ENOEXEC;
  const phdrs: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    const ph: ProgramHeader = {
      type: head.readUInt32LE(o),
      flags: head.readUInt32LE(o + 4),
      offset: readU64(head, o + 8),
      vaddr: readU64(head, o + 16),
      filesz: readU64(head, o + 32),
      memsz: readU64(head, o + 40),
      align: readU64(head, o + 48),
    };
    if (ph.type === PT_LOAD) {
      if (ph.filesz > ph.memsz) return -E.ENOEXEC;
      if ((ph.offset % 4096) !== (ph.vaddr % 4096)) return -E.ENOEXEC;
    }
    phdrs.push(ph);
  }
  if (!phdrs.some((p) => p.type === PT_LOAD)) return -E.ENOEXEC;
  return { type, entry, phoff, phentsize, phnum, phdrs };
}

export function elfProt(flags: number): number {
  return (flags & PF_R ? 1 : 0) | (flags & PF_W ? 2 : 0) | (flags & PF_X ? 4 : 0);
}

/** Lowest and highest address the PT_LOAD segments cover (before the load bias). */
export function loadSpan(h: ElfHeader): { lo: number; hi: number } {
  let lo = Infinity, hi = 0;
  for (const p of h.phdrs) {
    if (p.type !== PT_LOAD) continue;
    lo = Math.min(lo, pageDown(p.vaddr));
    hi = Math.max(hi, pageUp(p.vaddr + p.memsz));
  }
  return { lo, hi };
}

export function pageDown(x: number): number {
  return x - (x % 4096);
}

export function pageUp(x: number): number {
  return pageDown(x + 4095);
}
