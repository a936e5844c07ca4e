/**
 * futex(2), served by the guest kernel: waiters park in the kernel, keyed
 * by (address space, address). Shared futexes across processes are keyed
 * the same way, so they only work within one address space (documented
 * limitation: the kernel cannot see physical pages).
 */
import { E } from './errno.ts';
import type { Kernel } from './kernel.ts';
import type { Process, Task } from './task.ts';
import { WaitQueue } from './wait-queue.ts';

interface FutexWaiter {
  task: Task;
  bitset: number;
  woken: boolean;
}

const queues = new Map<string, { q: WaitQueue; waiters: FutexWaiter[] }>();

function key(p: Process, addr: number): string {
  return `${p.mm.hostPid}:${addr}`;
}

function bucket(p: Process, addr: number) {
  const k = key(p, addr);
  let b = queues.get(k);
  if (!b) {
    b = { q: new WaitQueue(), waiters: [] };
    queues.set(k, b);
  }
  return b;
}

/** Wake up to `n` waiters on `addr` whose bitset matches; returns how many. */
export function futexWakeAddress(k: Kernel, p: Process, addr: number, n: number, bitset = 0xffffffff): number {
  void k;
  const b = queues.get(key(p, addr));
  if (!b) return 0;
  let woken = 0;
  for (const w of b.waiters) {
    if (woken >= n) break;
    if (w.woken || !(w.bitset & bitset)) continue;
    w.woken = true;
    woken++;
    w.task.wake();
  }
  b.waiters = b.waiters.filter((w) => !w.woken);
  if (b.waiters.length === 0) queues.delete(key(p, addr));
  return woken;
}

/** State a FUTEX_WAIT keeps across its retries. */
export interface FutexWaitState {
  waiter: FutexWaiter;
  addr: number;
  deadline: number;
}

/**
 * FUTEX_WAIT: block if *addr == val. Returns 0 once woken, -EAGAIN if the
 * value differs, -ETIMEDOUT after `deadline` (monotonic ms, -1 none).
 */
export function futexWait(k: Kernel, t: Task, addr: number, val: number, deadline: number, bitset: number,
  now: number): number {
  const st = t.syscallState as FutexWaitState | undefined;
  if (st) {
    if (st.waiter.woken) return 0;
    if (st.deadline >= 0 && now >= st.deadline) {
      removeWaiter(t.proc, st);
      return -E.ETIMEDOUT;
    }
    return k.block(t, [], st.deadline);
  }
  if (addr % 4 !== 0) return -E.EINVAL;
  const cur = k.mem.readU32(t.proc.mm.hostPid, addr);
  if (cur < 0) return -E.EFAULT;
  if ((cur | 0) !== (val | 0)) return -E.EAGAIN;
  const waiter: FutexWaiter = { task: t, bitset, woken: false };
  bucket(t.proc, addr).waiters.push(waiter);
  const state: FutexWaitState = { waiter, addr, deadline };
  t.syscallState = state;
  t.cancelWait = () => removeWaiter(t.proc, state);
  return k.block(t, [], deadline);
}

function removeWaiter(p: Process, st: FutexWaitState): void {
  const b = queues.get(key(p, st.addr));
  if (!b) return;
  b.waiters = b.waiters.filter((w) => w !== st.waiter);
  if (b.waiters.length === 0) queues.delete(key(p, st.addr));
}

/** FUTEX_REQUEUE / FUTEX_CMP_REQUEUE: wake n, move up to n2 others to addr2. */
export function futexRequeue(k: Kernel, p: Process, addr: number, n: number, addr2: number, n2: number): number {
  const woken = futexWakeAddress(k, p, addr, n);
  const from = queues.get(key(p, addr));
  if (!from) return woken;
  const move = from.waiters.splice(0, n2);
  if (from.waiters.length === 0) queues.delete(key(p, addr));
  const to = bucket(p, addr2);
  for (const w of move) {
    to.waiters.push(w);
    const st = w.task.syscallState as FutexWaitState | undefined;
    if (st) st.addr = addr2;
  }
  return woken + move.length;
}
