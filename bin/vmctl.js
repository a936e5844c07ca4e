#!/usr/bin/env node
// vmctl's entry point. The commands and src/ are TypeScript run as is: tsx's
// loader is registered first, so there is no compile step between an edit
// and the next run.
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
