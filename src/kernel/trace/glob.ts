/**
 * Path globs for `--inject ...:path=GLOB`, minimatch-like on absolute guest
 * paths: `*` any run of characters but `/`, `?` one character but `/`,
 * `**` any run of characters including `/` (`/a/**` matches `/a/b/c`; a
 * `**` that is a whole path component may also match no component at all,
 * so `/a/`+`**`+`/b` matches `/a/b`), `[abc]` / `[!abc]` a class, `\x` a
 * literal x. Everything else matches itself.
 */

/** The RegExp for `glob`; a malformed class (`[` with no `]`) is an Error. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        // A whole-component `**` may match no component: `/a/`, `**`, `/b` matches `/a/b`.
        if (glob[i + 1] === '/' && (i === 1 || glob[i - 2] === '/')) {
          i++;
          re += '(?:.*/)?';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) throw new Error(`unclosed "[" in glob "${glob}"`);
      let body = glob.slice(i + 1, end);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      re += `[${negated ? '^/' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < glob.length) {
      re += escape(glob[++i]!);
    } else {
      re += escape(c);
    }
  }
  return new RegExp(`^${re}$`, 's');
}

function escape(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}
