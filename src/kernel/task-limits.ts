/**
 * How many guest tasks may exist: the guest-wide limit (`--pids-max`,
 * counted as a pids cgroup counts, and shown as kernel.threads-max) and
 * RLIMIT_NPROC per user, both checked where Linux's copy_process() checks
 * them, before anything of the new task exists. Every guest task is a host
 * thread or process, so these bounds are also what a fork bomb can take
 * of the host.
 */
import { E } from './errno.ts';
import type { Kernel } from './kernel.ts';
import { getRlimit, RLIMIT_NPROC } from './syscalls/misc.ts';
import type { Process } from './task.ts';

/**
 * Tasks that hold a pid: every live thread, and every zombie until it is
 * reaped (the pids controller uncharges in release_task(), as
 * RLIMIT_NPROC's count does).
 */
function tasksAlive(k: Kernel, uid?: number): number {
  let n = 0;
  if (uid === undefined) n = k.tasks.size;
  else for (const t of k.tasks.values()) if (t.proc.cred.uid === uid) n++;
  for (const p of k.procs.values()) if (!p.alive && (uid === undefined || p.cred.uid === uid)) n++;
  return n;
}

/**
 * May `parent` make one more task (fork, vfork, clone of a process or a
 * thread)? 0, or -EAGAIN (fork(2), clone(2): "the RLIMIT_NPROC soft
 * resource limit ... was encountered", "the maximum number of PIDs,
 * /proc/sys/kernel/pid_max, was reached"; pids.max of the pids cgroup).
 *
 * RLIMIT_NPROC counts the tasks of the parent's real user; the root user
 * and holders of CAP_SYS_RESOURCE or CAP_SYS_ADMIN (here: euid 0) are
 * exempt (kernel/fork.c, copy_process). The guest-wide limit exempts no one.
 */
export function mayCreateTask(k: Kernel, parent: Process): number {
  const cred = parent.cred;
  const nproc = getRlimit(parent, RLIMIT_NPROC).cur;
  if (cred.uid !== 0 && cred.euid !== 0 && nproc !== Infinity && tasksAlive(k, cred.uid) >= nproc) return -E.EAGAIN;
  if (tasksAlive(k) >= k.pidsMax) return -E.EAGAIN;
  return 0;
}
