#!/usr/bin/env node
// vmctl's entry point. The commands and src/ are TypeScript run as is: tsx's
// loader is registered first, so there is no compile step between an edit
// and the next run.
import { execute, settings } from '@oclif/core';
import { register } from 'tsx/esm/api';

register();
// tsx is already in place: oclif must not look for ts-node or rewrite paths by tsconfig.
settings.enableAutoTranspile = false;
await execute({ dir: import.meta.url });
