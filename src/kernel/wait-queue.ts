/**
 * Wait queues: where a blocked guest thread waits for "try again".
 * The kernel re-runs a blocked syscall from the start when any queue it
 * waits on is woken, like the retry loops of Linux's wait_event().
 */
export interface Waiter {
  /** Called when a queue the waiter sits on is woken. */
  wake(): void;
}

export class WaitQueue {
  private readonly waiters = new Set<Waiter>();

  add(w: Waiter): void {
    this.waiters.add(w);
  }

  remove(w: Waiter): void {
    this.waiters.delete(w);
  }

  get empty(): boolean {
    return this.waiters.size === 0;
  }

  /** Wake every waiter; each is removed and must re-register if it blocks again. */
  wakeAll(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w.wake();
  }
}
