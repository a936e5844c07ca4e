import { Args, Flags } from '@oclif/core';
import { VmctlCommand } from '../src/cli/vmctl-command.ts';
import { control } from '../src/control/client.ts';
import { formatResult } from '../src/control/format.ts';
import { VmctlError, ExitCode } from '../src/errors.ts';
import { CONTROL_COMMANDS, HALT_STATUS } from '../src/kernel/control/protocol.ts';

export default class Ctl extends VmctlCommand {
  static override summary = "Control a running guest through its control socket (like UML's mconsole).";

  static override description = `Every guest vmctl boots listens on a Unix socket in its state directory (<state>/<instance>/<rootfs>/control.sock, the instance being the guest name or boot --name). GUEST is an instance name (the guest name, or the --name given to boot) or the path of a socket or state directory.
Commands:
  ps                 guest threads: pid, tid, host tid, state, the syscall each is in or parked in, command
  stack PID          registers and the top 16 words of the user stack of a guest process or thread
  stop | go          freeze / thaw the whole guest
  break [NAME[:PID]] stop guest threads (of PID only, with :PID) at entry of syscall NAME, before it is served; bare: list breakpoints and stopped threads
  unbreak NAME[:PID]|all   remove breakpoints (threads stopped at them stay stopped)
  go PID             let one thread stopped at a syscall breakpoint go on: its syscall is served
  halt               end the guest now: every process is killed and vmctl boot exits with ${HALT_STATUS} (128+SIGKILL)
  kill PID SIG       send a signal (TERM, SIGKILL, 9, ...) to a guest process
  strace on|off|SYSCALLS   start (all, or the named syscalls and classes) or stop tracing to vmctl boot's stderr
  stats              syscall counts and host round trips so far
  gdb PID PORT       stop guest process PID and serve gdb for it on 127.0.0.1:PORT (gdb -ex 'target remote 127.0.0.1:PORT')`;

  static override examples = [
    { description: 'What the busybox guest is doing', command: '<%= config.bin %> <%= command.id %> busybox ps' },
    { description: 'Freeze it, look at pid 1, let it go', command: '<%= config.bin %> <%= command.id %> busybox stop && <%= config.bin %> <%= command.id %> busybox stack 1 && <%= config.bin %> <%= command.id %> busybox go' },
    { description: 'Stop the next process that calls openat, look at it, let it go', command: '<%= config.bin %> <%= command.id %> busybox break openat && <%= config.bin %> <%= command.id %> busybox ps && <%= config.bin %> <%= command.id %> busybox go 3' },
    { description: 'Trace its file syscalls for a while', command: '<%= config.bin %> <%= command.id %> busybox strace file' },
  ];

  static override strict = false;

  static override args = {
    guest: Args.string({ description: 'Guest name, or path of its control socket or state directory.', required: true, ignoreStdin: true }),
    command: Args.string({ description: `One of: ${CONTROL_COMMANDS.filter((c) => c !== 'info').join(', ')}.`, required: true, ignoreStdin: true }),
  };

  static override flags = {
    json: Flags.boolean({ description: 'Print the reply as JSON.' }),
  };

  async run(): Promise<void> {
    const { args, argv, flags } = await this.parse(Ctl);
    const rest = (argv as string[]).slice(2);
    if (!(CONTROL_COMMANDS as readonly string[]).includes(args.command)) {
      throw new VmctlError(`unknown command "${args.command}"; known: ${CONTROL_COMMANDS.filter((c) => c !== 'info').join(', ')}`,
        ExitCode.usage);
    }
    const result = await control(args.guest, args.command, rest);
    this.log(flags.json ? JSON.stringify(result, null, 2) : formatResult(args.command, result));
  }
}
