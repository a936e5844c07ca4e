/**
 * Flags that stand alone as well as take `=VALUE` (`--strace`,
 * `--inspect`): oclif's string flags always want a value, so a bare one
 * becomes `--flag=DEFAULT` before parsing. `valueFlags` are the spellings of
 * flags that take the next word as their value (so `--exec --strace` stays
 * the command's text); `--` ends the options.
 */
export function expandBareFlags(argv: readonly string[], valueFlags: ReadonlySet<string>,
  bare: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (Object.hasOwn(bare, a)) {
      out.push(`${a}=${bare[a]}`);
      continue;
    }
    out.push(a);
    if (valueFlags.has(a) && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out;
}
