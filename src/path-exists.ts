import { access } from 'node:fs/promises';

/** Does `path` exist (following symlinks)? For "already built?" checks of caches. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
