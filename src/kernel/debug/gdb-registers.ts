/**
 * The x86_64 registers as gdb sees them: the target description this stub
 * sends (GDB manual, "Target Descriptions"; the features are gdb's own
 * org.gnu.gdb.i386.core, .sse, .linux and .segments, gdb/features/i386/
 * 64bit-*.xml) and the `g` packet layout that follows from it, in that
 * order, each register little-endian.
 *
 * General registers live in the task's Regs (what the thread resumes
 * with); x87 and SSE state in the host thread's FXSAVE area
 * (PTRACE_GETFPREGS, struct user_fpregs_struct).
 */
import { Reg, type Regs } from '../../platform/regs.ts';

type Source =
  | { kind: 'gpr'; reg: Reg }
  | { kind: 'fx'; off: number } // bytes of the FXSAVE area, as many as the register has
  | { kind: 'fx16'; off: number } // a 16-bit FXSAVE field shown as 32 bits
  | { kind: 'ftag' }; // the full tag word, from FXSAVE's abridged one

interface RegDef {
  name: string;
  bits: number;
  type: string;
  group?: string;
  src: Source;
}

const gpr = (name: string, reg: Reg, type = 'int64', bits = 64): RegDef => ({ name, bits, type, src: { kind: 'gpr', reg } });

/** FXSAVE layout (Intel SDM vol. 1, 10.5.1): */
const FX_FCW = 0, FX_FSW = 2, FX_FTW = 4, FX_FOP = 6, FX_FIP = 8, FX_FCS = 12, FX_FDP = 16, FX_FDS = 20,
  FX_MXCSR = 24, FX_ST0 = 32, FX_XMM0 = 160;
export const FXSAVE_BYTES = 512;

/** In gdb's register numbering order; orig_rax is 57 as in 64bit-linux.xml. */
export const REGISTERS: readonly RegDef[] = [
  gpr('rax', Reg.RAX), gpr('rbx', Reg.RBX), gpr('rcx', Reg.RCX), gpr('rdx', Reg.RDX),
  gpr('rsi', Reg.RSI), gpr('rdi', Reg.RDI), gpr('rbp', Reg.RBP, 'data_ptr'), gpr('rsp', Reg.RSP, 'data_ptr'),
  gpr('r8', Reg.R8), gpr('r9', Reg.R9), gpr('r10', Reg.R10), gpr('r11', Reg.R11),
  gpr('r12', Reg.R12), gpr('r13', Reg.R13), gpr('r14', Reg.R14), gpr('r15', Reg.R15),
  gpr('rip', Reg.RIP, 'code_ptr'), gpr('eflags', Reg.EFLAGS, 'i386_eflags', 32),
  gpr('cs', Reg.CS, 'int32', 32), gpr('ss', Reg.SS, 'int32', 32), gpr('ds', Reg.DS, 'int32', 32),
  gpr('es', Reg.ES, 'int32', 32), gpr('fs', Reg.FS, 'int32', 32), gpr('gs', Reg.GS, 'int32', 32),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((i): RegDef => ({ name: `st${i}`, bits: 80, type: 'i387_ext', src: { kind: 'fx', off: FX_ST0 + 16 * i } })),
  { name: 'fctrl', bits: 32, type: 'int', group: 'float', src: { kind: 'fx16', off: FX_FCW } },
  { name: 'fstat', bits: 32, type: 'int', group: 'float', src: { kind: 'fx16', off: FX_FSW } },
  { name: 'ftag', bits: 32, type: 'int', group: 'float', src: { kind: 'ftag' } },
  { name: 'fiseg', bits: 32, type: 'int', group: 'float', src: { kind: 'fx16', off: FX_FCS } },
  { name: 'fioff', bits: 32, type: 'int', group: 'float', src: { kind: 'fx', off: FX_FIP } },
  { name: 'foseg', bits: 32, type: 'int', group: 'float', src: { kind: 'fx16', off: FX_FDS } },
  { name: 'fooff', bits: 32, type: 'int', group: 'float', src: { kind: 'fx', off: FX_FDP } },
  { name: 'fop', bits: 32, type: 'int', group: 'float', src: { kind: 'fx16', off: FX_FOP } },
  ...Array.from({ length: 16 }, (_, i): RegDef => ({ name: `xmm${i}`, bits: 128, type: 'vec128', src: { kind: 'fx', off: FX_XMM0 + 16 * i } })),
  { name: 'mxcsr', bits: 32, type: 'i386_mxcsr', group: 'vector', src: { kind: 'fx', off: FX_MXCSR } },
  gpr('orig_rax', Reg.ORIG_RAX, 'int'),
  gpr('fs_base', Reg.FS_BASE, 'int'), gpr('gs_base', Reg.GS_BASE, 'int'),
];

const FEATURE_OF = (i: number) => (i < 40 ? 'core' : i < 57 ? 'sse' : i === 57 ? 'linux' : 'segments');

function regXml(r: RegDef, i: number): string {
  return `  <reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${i}"${r.group ? ` group="${r.group}"` : ''}/>\n`;
}

const EFLAGS_TYPE = `  <flags id="i386_eflags" size="4">
    <field name="CF" start="0" end="0"/><field name="" start="1" end="1"/><field name="PF" start="2" end="2"/>
    <field name="AF" start="4" end="4"/><field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
    <field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/><field name="DF" start="10" end="10"/>
    <field name="OF" start="11" end="11"/><field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
    <field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/><field name="VIF" start="19" end="19"/>
    <field name="VIP" start="20" end="20"/><field name="ID" start="21" end="21"/>
  </flags>
`;

const SSE_TYPES = `  <vector id="v8bf16" type="bfloat16" count="8"/>
  <vector id="v4f" type="ieee_single" count="4"/>
  <vector id="v2d" type="ieee_double" count="2"/>
  <vector id="v16i8" type="int8" count="16"/>
  <vector id="v8i16" type="int16" count="8"/>
  <vector id="v4i32" type="int32" count="4"/>
  <vector id="v2i64" type="int64" count="2"/>
  <union id="vec128">
    <field name="v8_bfloat16" type="v8bf16"/><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>
    <field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>
    <field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/>
  </union>
  <flags id="i386_mxcsr" size="4">
    <field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/><field name="ZE" start="2" end="2"/>
    <field name="OE" start="3" end="3"/><field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/>
    <field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/><field name="DM" start="8" end="8"/>
    <field name="ZM" start="9" end="9"/><field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/>
    <field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/>
  </flags>
`;

/** The target.xml of qXfer:features:read. */
export function targetXml(): string {
  const feature = (name: string, types: string) => {
    const regs = REGISTERS.map((r, i) => (FEATURE_OF(i) === name ? regXml(r, i) : '')).join('');
    return `<feature name="org.gnu.gdb.i386.${name}">\n${types}${regs}</feature>\n`;
  };
  return '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target version="1.0">\n' +
    '<architecture>i386:x86-64</architecture>\n<osabi>GNU/Linux</osabi>\n' +
    feature('core', EFLAGS_TYPE) + feature('sse', SSE_TYPES) + feature('linux', '') + feature('segments', '') +
    '</target>\n';
}

export const registerBytes = (regno: number): number => (REGISTERS[regno]?.bits ?? 0) / 8;

/** x87 tag of one register from its 80-bit value (SDM vol. 1, 8.1.7): 0 valid, 1 zero, 2 special. */
function x87Tag(v: Uint8Array): number {
  const exponent = (v[9]! & 0x7f) << 8 | v[8]!;
  const integer = v[7]! & 0x80;
  const fractionZero = v.subarray(0, 8).every((b, i) => (i === 7 ? (b & 0x7f) === 0 : b === 0));
  if (exponent === 0x7fff) return 2;
  if (exponent === 0) return fractionZero && !integer ? 1 : 2;
  return integer ? 0 : 2;
}

/** FXSAVE keeps one bit per register (empty or not); gdb wants the full 16-bit tag word. */
function fullTag(fx: Uint8Array): number {
  const abridged = fx[FX_FTW]!;
  const top = (fx[FX_FSW + 1]! >> 3) & 7;
  let tag = 0;
  for (let phys = 0; phys < 8; phys++) {
    let t = 3; // empty
    if (abridged & (1 << phys)) {
      const st = (phys - top + 8) % 8;
      t = x87Tag(fx.subarray(FX_ST0 + 16 * st, FX_ST0 + 16 * st + 10));
    }
    tag |= t << (2 * phys);
  }
  return tag;
}

/** The state of one stopped thread, read and written register by register. */
export class RegisterFile {
  /** set when an x87/SSE register changed and must go back to the host thread */
  fxDirty = false;

  constructor(readonly regs: Regs, readonly fx: Uint8Array) {}

  read(regno: number): Uint8Array {
    const r = REGISTERS[regno]!;
    const out = new Uint8Array(r.bits / 8);
    const dv = new DataView(out.buffer);
    switch (r.src.kind) {
      case 'gpr':
        // the raw halves: a number is exact only below 2^53, and mangled pointers use all 64 bits
        dv.setUint32(0, this.regs.raw[2 * r.src.reg]! >>> 0, true);
        if (r.bits === 64) dv.setUint32(4, this.regs.raw[2 * r.src.reg + 1]! >>> 0, true);
        break;
      case 'fx':
        out.set(this.fx.subarray(r.src.off, r.src.off + out.length));
        break;
      case 'fx16':
        dv.setUint32(0, this.fx[r.src.off]! | this.fx[r.src.off + 1]! << 8, true);
        break;
      case 'ftag':
        dv.setUint32(0, fullTag(this.fx), true);
        break;
    }
    return out;
  }

  write(regno: number, bytes: Uint8Array): void {
    const r = REGISTERS[regno]!;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    switch (r.src.kind) {
      case 'gpr':
        this.regs.raw[2 * r.src.reg] = dv.getInt32(0, true);
        // eflags and the selectors are 64-bit in user_regs_struct: their upper half stays
        if (r.bits === 64) this.regs.raw[2 * r.src.reg + 1] = dv.getInt32(4, true);
        return;
      case 'fx':
        this.fx.set(bytes.subarray(0, r.bits / 8), r.src.off);
        break;
      case 'fx16':
        this.fx[r.src.off] = bytes[0]!;
        this.fx[r.src.off + 1] = bytes[1]!;
        break;
      case 'ftag': {
        let abridged = 0;
        const tag = dv.getUint32(0, true);
        for (let phys = 0; phys < 8; phys++) if (((tag >> (2 * phys)) & 3) !== 3) abridged |= 1 << phys;
        this.fx[FX_FTW] = abridged;
        break;
      }
    }
    this.fxDirty = true;
  }

  /** Every register in `g` packet order. */
  readAll(): Uint8Array {
    const parts = REGISTERS.map((_, i) => this.read(i));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  /** A `G` packet's block; false when its length is not the whole set. */
  writeAll(data: Uint8Array): boolean {
    let off = 0;
    const total = REGISTERS.reduce((n, r) => n + r.bits / 8, 0);
    if (data.length !== total) return false;
    REGISTERS.forEach((r, i) => {
      this.write(i, data.subarray(off, off + r.bits / 8));
      off += r.bits / 8;
    });
    return true;
  }
}
