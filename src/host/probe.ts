/**
 * Runs build/host/vmctl-probe (src/tracer/probe/probe.c) and turns its JSON
 * into what vmctl decides by: which tracer mechanisms this host offers, and
 * whether it can boot a guest at all.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import { formatCommand, progress } from '../host-command.ts';

export interface HostFacility {
  available: boolean;
  /** Why it is or is not available, in a sentence fit to show the user. */
  reason: string;
}

export interface HostProbe {
  kernelRelease: string;
  arch: string;
  /** Host pid tracing the probe itself (0 when untraced): strace -f or gdb make ptrace fail. */
  tracerPid: number;
  ptrace: HostFacility;
  ptraceSysemu: HostFacility;
  seccompFilter: HostFacility;
  seccompUserNotif: HostFacility;
  processVmReadv: HostFacility;
  /** The requests of the vmctl host helper patch (host-patch/). */
  helperSyscallRoundtrip: HostFacility;
  helperMmBatch: HostFacility;
  /** How the kernel hands a guest process a file (needed without the helper patch). */
  seccompAddfd: HostFacility;
  /** Containment layers of guest processes (src/tracer/addon/sandbox.c), where the host allows them. */
  namespaces: HostFacility;
  landlock: HostFacility;
}

export const PROBE_EXECUTABLE = 'vmctl-probe';

function facility(json: Record<string, unknown>, key: string): HostFacility {
  const value = json[key] as Partial<HostFacility> | undefined;
  if (typeof value?.available !== 'boolean' || typeof value.reason !== 'string') {
    throw new Error(`field "${key}" is missing or malformed`);
  }
  return { available: value.available, reason: value.reason };
}

/** Parses the probe's stdout; exported for tests. */
export function parseProbeOutput(stdout: string): HostProbe {
  const json = JSON.parse(stdout) as Record<string, unknown>;
  return {
    kernelRelease: String(json.kernel_release),
    arch: String(json.arch),
    tracerPid: Number(json.tracer_pid ?? 0),
    ptrace: facility(json, 'ptrace'),
    ptraceSysemu: facility(json, 'ptrace_sysemu'),
    seccompFilter: facility(json, 'seccomp_filter'),
    seccompUserNotif: facility(json, 'seccomp_user_notif'),
    processVmReadv: facility(json, 'process_vm_readv'),
    helperSyscallRoundtrip: facility(json, 'helper_syscall_roundtrip'),
    helperMmBatch: facility(json, 'helper_mm_batch'),
    seccompAddfd: facility(json, 'seccomp_addfd'),
    namespaces: facility(json, 'namespaces'),
    landlock: facility(json, 'landlock'),
  };
}

/**
 * The probe's exit status (undefined: killed by a signal) and output. Every
 * `vmctl boot` runs it, so it is started with node's own execFile: loading
 * execa (runHostCommand's) would take longer than the probe runs.
 */
function execProbe(file: string, verbose: boolean): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  if (verbose) progress(`+ ${formatCommand(file, [])}`);
  return new Promise((resolve) => {
    execFile(file, [], (error, stdout, stderr) => {
      const code = (error as { code?: unknown } | null)?.code;
      resolve({ exitCode: error === null ? 0 : typeof code === 'number' ? code : undefined, stdout, stderr });
    });
  });
}

export async function runProbe(buildDir: string, opts: { verbose?: boolean } = {}): Promise<HostProbe> {
  const result = await execProbe(join(buildDir, PROBE_EXECUTABLE), opts.verbose ?? false);
  if (result.exitCode !== 0) {
    throw new VmctlError(
      `the host probe failed (exit ${result.exitCode ?? 'by signal'}): ${result.stderr.trim() || 'no message'}. ` +
        'Run `vmctl build-host --force` to rebuild it.',
      ExitCode.host,
    );
  }
  try {
    return parseProbeOutput(result.stdout);
  } catch (error) {
    throw new VmctlError(
      `the host probe printed something vmctl cannot read (${(error as Error).message}). ` +
        'Run `vmctl build-host --force` to rebuild it.',
      ExitCode.host,
    );
  }
}

function yesNo(f: HostFacility): string {
  return f.available ? 'yes' : `no (${f.reason})`;
}

function helperPatch(probe: HostProbe): string {
  const { helperSyscallRoundtrip: roundtrip, helperMmBatch: mmBatch } = probe;
  if (!roundtrip.available && !mmBatch.available) return 'absent (vmctl uses plain ptrace; see host-patch/)';
  const used = [
    ...(roundtrip.available ? ['the one-call syscall round trip (PTRACE_VMCTL_SYSCALL_ROUNDTRIP)'] : []),
    ...(mmBatch.available ? ['address-space batches (PTRACE_VMCTL_MM_BATCH)'] : []),
  ];
  const partial = roundtrip.available && mmBatch.available ? 'present' : `partial (${roundtrip.reason}; ${mmBatch.reason})`;
  return `${partial}; \`vmctl boot\` uses ${used.join(' and ')} unless --no-helper`;
}

/** The summary `vmctl build-host` prints: one facility a line. */
export function formatProbeTable(probe: HostProbe): string {
  const rows: [string, string][] = [
    ['kernel release', probe.kernelRelease],
    ['architecture', probe.arch],
    ['ptrace', yesNo(probe.ptrace)],
    ['PTRACE_SYSEMU', yesNo(probe.ptraceSysemu)],
    ['seccomp filters', yesNo(probe.seccompFilter)],
    ['seccomp user notification', yesNo(probe.seccompUserNotif)],
    ['process_vm_readv', yesNo(probe.processVmReadv)],
    ['seccomp ADDFD', yesNo(probe.seccompAddfd)],
    ['helper patch', helperPatch(probe)],
    ['guest namespaces', yesNo(probe.namespaces)],
    ['Landlock', probe.landlock.available ? `yes (${probe.landlock.reason})` : yesNo(probe.landlock)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return ['host facilities:', ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)].join('\n');
}

/** Throws the actionable error when this host cannot run guests: ptrace refused or no PTRACE_SYSEMU. */
export function assertCanRunGuests(probe: HostProbe): void {
  if (!probe.ptrace.available) {
    throw new VmctlError(`ptrace is refused on this host, and vmctl needs it to run guests: ${probe.ptrace.reason}.`, ExitCode.host);
  }
  if (!probe.ptraceSysemu.available) {
    throw new VmctlError(
      `PTRACE_SYSEMU does not work on this host (${probe.ptraceSysemu.reason}); ` +
        'vmctl needs an x86_64 Linux kernel with PTRACE_SYSEMU, which every mainline kernel has.',
      ExitCode.host,
    );
  }
  if (!probe.seccompAddfd.available && !probe.helperMmBatch.available) {
    throw new VmctlError(
      `seccomp user notification with SECCOMP_IOCTL_NOTIF_ADDFD does not work on this host (${probe.seccompAddfd.reason}); ` +
        'vmctl needs it (Linux 5.9 or later) to hand a guest process a file without running anything of the guest\'s, ' +
        'unless the host carries the vmctl helper patch (host-patch/).',
      ExitCode.host,
    );
  }
  if (!probe.processVmReadv.available) {
    throw new VmctlError(
      `process_vm_readv does not work on this host (${probe.processVmReadv.reason}); vmctl needs it to reach guest memory.`,
      ExitCode.host,
    );
  }
}
