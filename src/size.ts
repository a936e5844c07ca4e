/**
 * Sizes as users write them on the command line and in mount options:
 * a number of bytes with an optional K, M, G or T suffix (powers of 1024),
 * the way tmpfs(5) reads `size=` and UML reads `mem=`.
 */
const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Bytes in `text` ("256M", "1g", "4096"), or undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^([0-9]+)([KMGT]?)$/i.exec(text.trim());
  if (!m) return undefined;
  const bytes = Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A byte count as the largest unit that divides it ("256M"). */
export function formatSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    if (bytes > 0 && bytes % UNITS[unit]! === 0) return `${bytes / UNITS[unit]!}${unit}`;
  }
  return String(bytes);
}
