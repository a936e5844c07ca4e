/**
 * Just enough ELF header reading to tell whether a host binary can serve as a
 * guest's userland: 64-bit x86_64, and static (no PT_INTERP), since a
 * dynamically linked host busybox would need the host's loader and libc.
 */
import { open } from 'node:fs/promises';

export interface ElfInfo {
  is64Bit: boolean;
  /** e_machine: 62 is x86_64. */
  machine: number;
  /** True when a PT_INTERP header names a dynamic loader. */
  hasInterpreter: boolean;
}

const EM_X86_64 = 62;
const PT_INTERP = 3;
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** Reads a file's ELF header and program headers; undefined when it is not a 64-bit little-endian ELF. */
export async function readElfInfo(path: string): Promise<ElfInfo | undefined> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(64);
    const { bytesRead } = await file.read(header, 0, 64, 0);
    if (bytesRead < 64 || !header.subarray(0, 4).equals(ELF_MAGIC)) return undefined;
    const is64Bit = header[4] === 2;
    const littleEndian = header[5] === 1;
    if (!is64Bit || !littleEndian) return { is64Bit, machine: header.readUInt16LE(18), hasInterpreter: false };
    const machine = header.readUInt16LE(18);
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await file.read(table, 0, table.length, phoff);
    let hasInterpreter = false;
    for (let i = 0; i < phnum; i++) {
      if (table.readUInt32LE(i * phentsize) === PT_INTERP) hasInterpreter = true;
    }
    return { is64Bit, machine, hasInterpreter };
  } finally {
    await file.close();
  }
}

export function isStaticX86_64(info: ElfInfo | undefined): boolean {
  return info !== undefined && info.is64Bit && info.machine === EM_X86_64 && !info.hasInterpreter;
}

export function isX86_64(info: ElfInfo): boolean {
  return info.is64Bit && info.machine === EM_X86_64;
}
