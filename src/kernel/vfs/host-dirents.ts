/**
 * A host directory's entries in one call: name, inode number and type, as
 * the tracer addon reads them with getdents64 (src/tracer/addon/dirents.c),
 * so a listing of the guest root asks no lstat per entry. Without the
 * addon's readDir (an old build) the answer is undefined and the caller
 * lists names and asks lstat about each.
 */
import { hostBuildDir } from '../../paths.ts';
import { loadTracerAddon, type TracerAddon } from '../../platform/tracer-addon.ts';

export interface HostDirent {
  readonly name: string;
  /** the host's st_ino (meaningless when type is DT_UNKNOWN) */
  readonly ino: bigint;
  /** DT_*, as lstat's file type; DT_UNKNOWN if the host could not tell */
  readonly type: number;
}

/** Offsets in struct linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name. */
const D_RECLEN = 16, D_TYPE = 18, D_NAME = 19;

let readDir: TracerAddon['readDir'] | undefined;

/**
 * The addon's readDir, once it loads. A failure is not remembered: the
 * addon may be built later in the same process (a test that builds the
 * host side after using an overlay).
 */
function nativeReadDir(): TracerAddon['readDir'] | undefined {
  if (readDir) return readDir;
  try {
    const addon = loadTracerAddon(hostBuildDir);
    if (typeof addon.readDir === 'function') readDir = addon.readDir.bind(addon);
  } catch {
    // (no addon built yet: the caller lists names and asks lstat)
  }
  return readDir;
}

/** The entries of host directory `path` but "." and "..", -errno, or undefined without the addon. */
export function hostDirents(path: string): HostDirent[] | number | undefined {
  const read = nativeReadDir();
  if (!read) return undefined;
  const recs = read(path);
  if (typeof recs === 'number') return recs;
  const out: HostDirent[] = [];
  for (let off = 0; off < recs.length; off += recs.readUInt16LE(off + D_RECLEN)) {
    const end = recs.indexOf(0, off + D_NAME);
    const name = recs.toString('utf8', off + D_NAME, end);
    if (name === '.' || name === '..') continue;
    out.push({ name, ino: recs.readBigUInt64LE(off), type: recs[off + D_TYPE]! });
  }
  return out;
}
