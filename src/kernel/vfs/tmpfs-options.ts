/**
 * tmpfs mount options (tmpfs(5)) as mount(2)'s data string carries them:
 * parsed the way Linux's shmem_parse_one() and memparse() read them, and
 * shown in /proc/mounts the way shmem_show_options() prints them.
 * See mm/shmem.c and lib/cmdline.c.
 */
import { E } from '../errno.ts';

export const PAGE_SIZE = 4096;
/** mm/shmem.c: what one inode (or one extra hard link) costs of nr_inodes' space. */
export const BOGO_INODE_SIZE = 1024;

/** What a tmpfs mount is asked for; an absent field was not given. */
export interface TmpfsParams {
  /** size= / nr_blocks=, in pages; 0: unlimited */
  blocks?: number;
  /** nr_inodes=; 0: unlimited */
  inodes?: number;
  /** mode= of the root directory, 07777 bits */
  mode?: number;
  uid?: number;
  gid?: number;
  /** inode64 (true) / inode32 (false): shown as given */
  inode64?: boolean;
  noswap?: boolean;
}

/** The defaults Linux gives a tmpfs on a machine with `ramBytes` of memory (shmem_default_max_*). */
export function defaultBlocks(ramBytes: number): number {
  return Math.floor(ramBytes / PAGE_SIZE / 2);
}

export function defaultInodes(ramBytes: number): number {
  return Math.floor(ramBytes / PAGE_SIZE / 2);
}

const SUFFIX: Record<string, number> = { k: 10, m: 20, g: 30, t: 40, p: 50, e: 60 };
const U64 = 2n ** 64n;

/**
 * memparse(): a number in C's bases (0x hex, leading 0 octal, else
 * decimal) and one optional K/M/G/T/P/E suffix; the rest of the text is
 * returned. Arithmetic is u64 and wraps as the kernel's does (size=16E is 0).
 */
function memparse(text: string): { value: bigint; rest: string } | undefined {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(.*)$/s.exec(text);
  if (!m) return undefined;
  const digits = m[1]!;
  let value = digits.length > 1 && digits[0] === '0' && (digits[1] === 'x' || digits[1] === 'X')
    ? BigInt(digits)
    : digits.length > 1 && digits[0] === '0' ? BigInt('0o' + digits.slice(1)) : BigInt(digits);
  let rest = m[2]!;
  const shift = SUFFIX[rest[0]?.toLowerCase() ?? ''];
  if (shift !== undefined) {
    value = (value << BigInt(shift)) % U64;
    rest = rest.slice(1);
  }
  return { value: value % U64, rest };
}

/** A u64 page or inode count as a JavaScript number (limits this large mean "more than there is"). */
function countOf(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** size=: bytes, or a percentage of the memory, rounded up to whole pages. */
function parseSizeOption(value: string, ramBytes: number): number | undefined {
  const p = memparse(value);
  if (!p) return undefined;
  let bytes = p.value;
  let rest = p.rest;
  if (rest.startsWith('%')) {
    // size <<= PAGE_SHIFT; size *= totalram_pages(); do_div(size, 100): u64 arithmetic.
    bytes = ((bytes * BigInt(PAGE_SIZE)) % U64) * BigInt(Math.floor(ramBytes / PAGE_SIZE)) % U64 / 100n;
    rest = rest.slice(1);
  }
  if (rest !== '') return undefined;
  return countOf((bytes + BigInt(PAGE_SIZE) - 1n) / BigInt(PAGE_SIZE));
}

/** A uid or gid (fsparam_u32: kstrtouint in C's bases, no suffix) that is not -1. */
function parseId(value: string): number | undefined {
  if (!/^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(value)) return undefined;
  const v = value.length > 1 && value[0] === '0' && value[1] !== 'x' && value[1] !== 'X' ? BigInt('0o' + value.slice(1)) : BigInt(value);
  return v >= 0xffffffffn ? undefined : Number(v);
}

/**
 * Options the VFS takes before the filesystem sees them (fs/fs_context.c,
 * common_set_sb_flag / common_clear_sb_flag): accepted here and left to
 * the mount flags.
 */
const SB_FLAG_OPTIONS = new Set(['dirsync', 'lazytime', 'mand', 'ro', 'sync', 'async', 'nolazytime', 'nomand', 'rw', 'silent']);
/** Options tmpfs knows and vmctl's tmpfs accepts without acting on (no huge pages, NUMA policy or quota here). */
const IGNORED_KEYS = new Set(['huge', 'mpol']);

/**
 * The data string of mount(2) for tmpfs: comma-separated options, a later
 * one overriding an earlier one. EINVAL for an unknown option or a bad
 * value, as Linux's "tmpfs: Unknown parameter" / "Bad value".
 */
export function parseTmpfsOptions(data: string, ramBytes: number): TmpfsParams | number {
  const out: TmpfsParams = {};
  for (const opt of data.split(',')) {
    if (opt === '' || SB_FLAG_OPTIONS.has(opt)) continue;
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? undefined : opt.slice(eq + 1);
    switch (key) {
      case 'size': {
        const blocks = value === undefined ? undefined : parseSizeOption(value, ramBytes);
        if (blocks === undefined) return -E.EINVAL;
        out.blocks = blocks;
        break;
      }
      case 'nr_blocks': {
        const p = value === undefined ? undefined : memparse(value);
        if (!p || p.rest !== '') return -E.EINVAL;
        out.blocks = countOf(p.value);
        break;
      }
      case 'nr_inodes': {
        const p = value === undefined ? undefined : memparse(value);
        // shmem_parse_one: EINVAL past ULONG_MAX / BOGO_INODE_SIZE too.
        if (!p || p.rest !== '' || p.value > (U64 - 1n) / BigInt(BOGO_INODE_SIZE)) return -E.EINVAL;
        out.inodes = countOf(p.value);
        break;
      }
      case 'mode': {
        // fsparam_u32oct: octal digits only.
        if (value === undefined || !/^[0-7]+$/.test(value) || BigInt('0o' + value) > 0xffffffffn) return -E.EINVAL;
        out.mode = Number(BigInt('0o' + value) & 0o7777n);
        break;
      }
      case 'uid':
      case 'gid': {
        const id = value === undefined ? undefined : parseId(value);
        if (id === undefined) return -E.EINVAL;
        out[key] = id;
        break;
      }
      case 'inode64':
      case 'inode32':
      case 'noswap':
        if (value !== undefined) return -E.EINVAL;
        if (key === 'noswap') out.noswap = true;
        else out.inode64 = key === 'inode64';
        break;
      default:
        if (!IGNORED_KEYS.has(key) || value === undefined) return -E.EINVAL;
    }
  }
  return out;
}

/** What a mounted tmpfs is, for /proc/mounts. */
export interface TmpfsShown {
  blocks: number;
  inodes: number;
  mode: number;
  uid: number;
  gid: number;
  inode64: boolean;
  noswap: boolean;
}

/** shmem_show_options(): only what differs from the defaults, in Linux's order. */
export function showTmpfsOptions(s: TmpfsShown, ramBytes: number): string {
  const o: string[] = [];
  if (s.blocks !== defaultBlocks(ramBytes)) o.push(`size=${s.blocks * (PAGE_SIZE / 1024)}k`);
  if (s.inodes !== defaultInodes(ramBytes)) o.push(`nr_inodes=${s.inodes}`);
  if (s.mode !== 0o1777) o.push(`mode=${s.mode.toString(8).padStart(3, '0')}`);
  if (s.uid !== 0) o.push(`uid=${s.uid}`);
  if (s.gid !== 0) o.push(`gid=${s.gid}`);
  if (s.inode64) o.push('inode64');
  if (s.noswap) o.push('noswap');
  return o.join(',');
}
