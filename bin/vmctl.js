#!/usr/bin/env -S node --max-semi-space-size=2
// vmctl's entry point. The commands and src/ are TypeScript run as is: tsx's
// loader is registered first, so there is no compile step between an edit
// and the next run.
// The guest kernel's garbage is short-lived and small: a 2 MiB young
// generation instead of V8's 16 MiB takes about 20 MB off the kernel
// process's peak RSS and, measured, nothing off its speed. It must be on
// node's command line (V8 sizes the heap before any code runs), hence the
// shebang: run this file itself, not `node bin/vmctl.js`, to get it.
import { execute, settings } from '@oclif/core';
import { register } from 'tsx/esm/api';

// `vmctl boot --inspect` opens the inspector itself (src/inspector.ts), so tsx,
// which puts the TypeScript text into its inline source maps (sourcesContent)
// only when node's own options hold an --inspect flag, is shown one while it
// registers: a debugger then has the TypeScript to show without reading files.
const args = process.argv.slice(2);
const inspecting = args.slice(0, args.includes('--') ? args.indexOf('--') : undefined)
  .some((a) => /^--inspect(-brk)?(=|$)/.test(a));
const nodeOptions = process.env.NODE_OPTIONS;
if (inspecting) process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --inspect`.trim();
register();
// (restored at once: nothing vmctl starts may inherit it and open an inspector of its own)
if (inspecting) {
  if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = nodeOptions;
}
// tsx is already in place: oclif must not look for ts-node or rewrite paths by tsconfig.
settings.enableAutoTranspile = false;
await execute({ dir: import.meta.url });
