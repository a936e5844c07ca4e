/**
 * The kernel as /proc sees it (procfs.ts's ProcView): guest processes
 * only, guest pids only, host paths turned into guest paths.
 */
import os from 'node:os';
import type { Kernel } from './kernel.ts';
import { monotonicMs } from './timers.ts';
import { locPath } from './vfs/path-walk.ts';
import type { MemInfo, ProcView } from './vfs/procfs.ts';
import { kernelMemory } from './memory-budget.ts';

export const KERNEL_RELEASE = '6.1.0-vmctl';
export const KERNEL_VERSION = '#1 SMP PREEMPT_DYNAMIC vmctl';

/** Host directories holding the guest root, longest first: their paths show as guest paths. */
export const hostRootPrefixes: string[] = [];

/** A host path of a mapped file as the guest should see it (or undefined: not the guest's business). */
export function guestPathOfHost(hostPath: string): string | undefined {
  for (const prefix of hostRootPrefixes) {
    if (hostPath === prefix) return '/';
    if (hostPath.startsWith(prefix + '/')) return hostPath.slice(prefix.length);
  }
  return undefined;
}

function translateMaps(text: string, stubPage: number): string {
  const out: string[] = [];
  const stub = `${stubPage.toString(16).padStart(8, "0")}-`;
  for (const line of text.split('\n')) {
    // the kernel's stub page is not the guest's (src/tracer/addon/ptrace_ops.c)
    if (line === '' || line.startsWith(stub)) continue;
    const m = /^(\S+ \S+ \S+ \S+ \S+)\s+(.*)$/.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    const [, head, path] = m;
    if (!path) out.push(head!);
    else if (path.startsWith('[')) out.push(`${head!.padEnd(73)}${path}`);
    else if (path.startsWith('/memfd:')) out.push(`${head!.padEnd(73)}/dev/shm/${path.slice(7)}`);
    else {
      const g = guestPathOfHost(path.replace(/ \(deleted\)$/, ''));
      out.push(g ? `${head!.padEnd(73)}${g}${path.endsWith(' (deleted)') ? ' (deleted)' : ''}` : head!);
    }
  }
  return out.join('\n') + (out.length ? '\n' : '');
}

export function createProcView(k: Kernel): ProcView {
  return {
    processes: () => [...k.procs.values()].sort((a, b) => a.pid - b.pid),
    process: (pid) => k.procs.get(pid),
    current: () => {
      const t = k.current ?? k.tasks.get(1);
      if (!t) throw new Error('procfs used with no current task');
      return t;
    },
    readMemory: (p, addr, len) => (p.alive && p.mm.hostPid > 0 ? k.mem.readPartial(p.mm.hostPid, addr, len) : 0),
    maps: (p) => (p.alive && p.mm.hostPid > 0 ? translateMaps(k.platform.hostMaps(p.mm.hostPid), k.platform.stubPage.start) : ''),
    locationPath: (loc) => locPath(loc),
    mounts: () => k.mounts.procMounts(),
    filesystems: () => k.mounts.filesystems(),
    hostname: () => k.hostname,
    setHostname: (name) => {
      k.hostname = name;
      return 0;
    },
    domainname: () => k.domainname,
    kernelRelease: () => KERNEL_RELEASE,
    kernelVersion: () => KERNEL_VERSION,
    bootTimeMs: () => k.bootTimeMs,
    uptimeMs: () => monotonicMs() - k.bootMonoMs,
    memInfo: () => guestMemInfo(),
    cpuinfo: () => cpuinfo(),
    cpuCount: () => os.cpus().length,
    loadavg: () => [0, 0, 0] as const,
    lastPid: () => Math.max(0, ...k.procs.keys()),
    threadsMax: () => k.pidsMax,
  };
}

/**
 * The guest's memory is --mem: what the kernel holds for it (tmpfs, pipe
 * buffers) is used, and no more is free than the host has.
 */
function guestMemInfo(): MemInfo {
  const total = Math.min(kernelMemory.limit, os.totalmem());
  const free = Math.max(0, Math.min(os.freemem(), total - kernelMemory.used));
  return { totalBytes: total, freeBytes: free, availableBytes: free };
}

function cpuinfo(): string {
  return os.cpus().map((c, i) => [
    `processor\t: ${i}`,
    'vendor_id\t: GenuineIntel',
    `model name\t: ${c.model}`,
    `cpu MHz\t\t: ${c.speed.toFixed(3)}`,
    'cache size\t: 0 KB',
    `physical id\t: 0`,
    `siblings\t: ${os.cpus().length}`,
    `core id\t\t: ${i}`,
    `cpu cores\t: ${os.cpus().length}`,
    'fpu\t\t: yes',
    'flags\t\t: fpu sse sse2',
    '',
  ].join('\n')).join('\n') + '\n';
}
