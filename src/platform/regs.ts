/**
 * x86_64 `struct user_regs_struct` as the tracer shares it: 27 registers,
 * each as two int32 halves, so reading a register costs no BigInt.
 * Values come back as signed 64-bit numbers, exact below 2^53 (every
 * user-space address is), so `-1` stays `-1`.
 */
export const enum Reg {
  R15 = 0, R14, R13, R12, RBP, RBX, R11, R10, R9, R8, RAX, RCX, RDX, RSI, RDI,
  ORIG_RAX, RIP, CS, EFLAGS, RSP, SS, FS_BASE, GS_BASE, DS, ES, FS, GS,
}
export const REG_COUNT = 27;
export const REGS_BYTES = REG_COUNT * 8;

const TWO32 = 4294967296;

export class Regs {
  readonly raw: Int32Array;

  constructor(raw?: Int32Array) {
    this.raw = raw ?? new Int32Array(REG_COUNT * 2);
  }

  get(r: Reg): number {
    return this.raw[2 * r + 1]! * TWO32 + (this.raw[2 * r]! >>> 0);
  }

  /** The low 32 bits, signed: how the kernel reads an `int` argument. */
  s32(r: Reg): number {
    return this.raw[2 * r]!;
  }

  /** The low 32 bits, unsigned: flags and `unsigned int` arguments. */
  u32(r: Reg): number {
    return this.raw[2 * r]! >>> 0;
  }

  set(r: Reg, v: number): void {
    const hi = Math.floor(v / TWO32);
    this.raw[2 * r] = (v - hi * TWO32) | 0;
    this.raw[2 * r + 1] = hi | 0;
  }

  copyFrom(other: Regs): void {
    this.raw.set(other.raw);
  }

  clone(): Regs {
    return new Regs(new Int32Array(this.raw));
  }
}

/** Syscall argument registers in ABI order (x86_64: rdi rsi rdx r10 r8 r9). */
export const ARG_REGS = [Reg.RDI, Reg.RSI, Reg.RDX, Reg.R10, Reg.R8, Reg.R9] as const;
