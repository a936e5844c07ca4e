import { Flags } from '@oclif/core';
import { VmctlCommand } from '../src/cli/vmctl-command.ts';
import { progress } from '../src/host-command.ts';

export default class Bench extends VmctlCommand {
  static override summary = 'Measure vmctl against native, User-Mode Linux, PRoot and the raw ptrace/seccomp floors.';

  static override description = `Builds the suite's static C programs (cc -static -O2) and runs the same programs in every setting: native, vmctl (default, accelerated), vmctl --strict, User-Mode Linux (Debian's linux.uml on a hostfs root), PRoot, and the bare mechanism floors (PTRACE_SYSEMU, SECCOMP_RET_TRACE, seccomp user notification). Every setting runs twice: pinned to one CPU (taskset -c 0) and as started by default.
Micro benchmarks print the time per operation; the macro ones are a busybox shell workload, a boot that runs \`true\`, and the kernel process's peak RSS. It prints the tables, the ratios of vmctl against each reference from the same run and the issue's targets (PASS/FAIL, reported, not asserted), writes the figures as JSON (bench/results/latest.json or --out) and a ratio chart as SVG beside it.
Missing user-mode-linux or proot are installed with apt-get when running as root; otherwise that setting is skipped with a note. A full run takes 5 to 10 minutes; --quick about one.`;

  static override examples = [
    { description: 'Run the whole suite and write bench/results/latest.json and latest.svg', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'A one-minute subset, written elsewhere', command: '<%= config.bin %> <%= command.id %> --quick --out /tmp/bench.json' },
  ];

  static override flags = {
    quick: Flags.boolean({ description: 'A one-minute subset: shorter measurements, a tenth of the workload, one boot each.' }),
    out: Flags.string({ description: 'Write the JSON here (default bench/results/latest.json); the SVG chart goes beside it.', helpValue: 'FILE' }),
    verbose: Flags.boolean({ char: 'v', description: 'Show every host command run (compiler, apt-get, each setting).' }),
    'helper-vm': Flags.boolean({
      description: 'Instead: the host helper patch\'s benchmark, in the patched kernel under QEMU (vmctl host-vm): getppid and ' +
        'fork+exec+wait with the helper and with --no-helper, default and --strict; writes bench/results/helper-vm.json (or --out).',
    }),
    rounds: Flags.integer({ description: 'With --helper-vm: rounds of measurements, the settings taking turns (default 3).', min: 1, max: 20 }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Bench);
    if (flags['helper-vm']) {
      const { runHelperVmBench } = await import('../bench/helper-vm.ts');
      await runHelperVmBench({ rounds: flags.rounds, targetMs: flags.quick ? 200 : 600, out: flags.out, verbose: flags.verbose,
        log: progress, print: (line) => this.log(line) });
      return;
    }
    // Loaded only now, so that every other command starts without the suite.
    const { runBench } = await import('../bench/run.ts');
    await runBench({ quick: flags.quick, out: flags.out, verbose: flags.verbose, log: progress, print: (line) => this.log(line) });
  }
}
