// npm's `prepare` hook: links bin/vmctl.js into node_modules/.bin, so that
// `npx vmctl` in a fresh clone runs this checkout's vmctl with every npm
// version (npm links the bins of dependencies, never the package's own).
import { mkdir, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const binDir = join(packageDir, 'node_modules', '.bin');
await mkdir(binDir, { recursive: true });
await rm(join(binDir, 'vmctl'), { force: true });
await symlink('../../bin/vmctl.js', join(binDir, 'vmctl'));
