/**
 * A host directory's entries in one call: name, inode number and type, as
 * the tracer addon reads them with getdents64 beneath a layer's root
 * (layerReadDir; src/tracer/addon/dirents.c), so a listing of the guest
 * root asks no lstat per entry.
 */

export interface HostDirent {
  readonly name: string;
  /** the host's st_ino (meaningless when type is DT_UNKNOWN) */
  readonly ino: bigint;
  /** DT_*, as lstat's file type; DT_UNKNOWN if the host could not tell */
  readonly type: number;
}

/** Offsets in struct linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name. */
const D_RECLEN = 16, D_TYPE = 18, D_NAME = 19;

/** A directory's entries but "." and "..", from its linux_dirent64 records. */
export function parseDirents(recs: Buffer): HostDirent[] {
  const out: HostDirent[] = [];
  for (let off = 0; off < recs.length; off += recs.readUInt16LE(off + D_RECLEN)) {
    const end = recs.indexOf(0, off + D_NAME);
    const name = recs.toString('utf8', off + D_NAME, end);
    if (name === '.' || name === '..') continue;
    out.push({ name, ino: recs.readBigUInt64LE(off), type: recs[off + D_TYPE]! });
  }
  return out;
}
