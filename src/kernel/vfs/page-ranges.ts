/**
 * Which pages of a file exist, as sorted, disjoint, non-touching
 * [start, end) runs of page indexes: a tmpfs file's allocated pages, which
 * a write or fallocate adds and a truncate drops (what Linux's page cache
 * xarray knows of a shmem file). A file written from start to end is one run.
 */
export class PageRanges {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** pages in all runs */
  total = 0;

  /** Number of runs: what the kernel holds in memory for this file. */
  get runs(): number {
    return this.starts.length;
  }

  /** Index of the first run ending after `page`. */
  private after(page: number): number {
    let lo = 0, hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! <= page) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Pages of [a, b) that exist. */
  countIn(a: number, b: number): number {
    let n = 0;
    for (let i = this.after(a); i < this.starts.length && this.starts[i]! < b; i++) {
      n += Math.min(b, this.ends[i]!) - Math.max(a, this.starts[i]!);
    }
    return n;
  }

  /** Make [a, b) exist; returns how many pages are new. */
  add(a: number, b: number): number {
    if (a >= b) return 0;
    // Runs that overlap or touch [a, b) merge with it.
    let i = this.after(a - 1);
    let j = i;
    let start = a, end = b, had = 0;
    while (j < this.starts.length && this.starts[j]! <= b) {
      start = Math.min(start, this.starts[j]!);
      end = Math.max(end, this.ends[j]!);
      had += this.ends[j]! - this.starts[j]!;
      j++;
    }
    this.starts.splice(i, j - i, start);
    this.ends.splice(i, j - i, end);
    const added = end - start - had;
    this.total += added;
    return added;
  }

  /** Drop every page from `a` on; returns how many went. */
  truncate(a: number): number {
    let i = this.after(a);
    let dropped = 0;
    if (i < this.starts.length && this.starts[i]! < a) {
      dropped += this.ends[i]! - a;
      this.ends[i] = a;
      i++;
    }
    for (let j = i; j < this.starts.length; j++) dropped += this.ends[j]! - this.starts[j]!;
    this.starts.length = i;
    this.ends.length = i;
    this.total -= dropped;
    return dropped;
  }

  /** The holes of [a, b), in order. */
  holes(a: number, b: number): [number, number][] {
    const out: [number, number][] = [];
    let p = a;
    for (let i = this.after(a); i < this.starts.length && this.starts[i]! < b && p < b; i++) {
      if (this.starts[i]! > p) out.push([p, this.starts[i]!]);
      p = Math.max(p, this.ends[i]!);
    }
    if (p < b) out.push([p, b]);
    return out;
  }

  /** The end of the longest [a, p) within [a, b) that holds at most `free` holes' pages. */
  prefixWithHoles(a: number, b: number, free: number): number {
    let left = free;
    for (const [hs, he] of this.holes(a, b)) {
      if (he - hs > left) return hs + left;
      left -= he - hs;
    }
    return b;
  }
}
