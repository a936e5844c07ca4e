import type { BatchCall } from './platform.ts';

const NR_SECCOMP = 317;
const SECCOMP_SET_MODE_FILTER = 1;

/**
 * A stub batch being put together (Platform.batch): its calls, and the
 * data block their pointer arguments point into, which the platform
 * writes at `base` (Platform.batchData.start) before the batch runs.
 */
export class BatchBuilder {
  readonly calls: BatchCall[] = [];
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  constructor(private readonly base: number) {}

  /** Place `bytes` in the data block, 8-byte aligned; returns their address in the process. */
  data(bytes: Uint8Array): number {
    const pad = (8 - (this.size % 8)) % 8;
    if (pad) this.parts.push(new Uint8Array(pad));
    const at = this.base + this.size + pad;
    this.parts.push(bytes);
    this.size += pad + bytes.length;
    return at;
  }

  call(nr: number, args: readonly number[], expect: number): void {
    this.calls.push({ nr, args, expect });
  }

  /** seccomp(SECCOMP_SET_MODE_FILTER) of `filter` (struct sock_filter[]), which must succeed. */
  installFilter(filter: Uint8Array): void {
    const insns = this.data(filter);
    const fprog = Buffer.alloc(16); // struct sock_fprog
    fprog.writeUInt16LE(filter.length / 8, 0);
    fprog.writeBigUInt64LE(BigInt(insns), 8);
    this.call(NR_SECCOMP, [SECCOMP_SET_MODE_FILTER, 0, this.data(fprog)], 0);
  }

  get dataBlock(): Buffer {
    return Buffer.concat(this.parts);
  }
}
