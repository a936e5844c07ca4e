import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests boot real guests whose speed depends on the tracer sharing a CPU
    // with its tracees: one file at a time on a 2-CPU machine.
    fileParallelism: false,
    testTimeout: 120_000,
    // The first build of the host side and the first busybox download happen in hooks.
    hookTimeout: 600_000,
  },
});
