/**
 * The kernel's own timers (nanosleep, poll timeouts, alarm, ITIMER_REAL).
 * Kept here rather than in Node's timers so the tracer's wait can sleep
 * until exactly the next one while guest threads run.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

interface Timer {
  deadline: number;
  fn: () => void;
  seq: number;
  live: boolean;
}

export class TimerQueue {
  private heap: Timer[] = [];
  private seq = 0;

  /** Run `fn` at `deadline` (monotonic ms); returns a cancel function. */
  add(deadline: number, fn: () => void): () => void {
    const t: Timer = { deadline, fn, seq: this.seq++, live: true };
    this.heap.push(t);
    this.up(this.heap.length - 1);
    return () => { t.live = false; };
  }

  /** Deadline of the earliest live timer, or -1. */
  next(): number {
    while (this.heap.length > 0 && !this.heap[0]!.live) this.pop();
    return this.heap.length > 0 ? this.heap[0]!.deadline : -1;
  }

  /** Fire every timer due at `now`; returns how many fired. */
  runDue(now: number): number {
    let n = 0;
    for (;;) {
      const d = this.next();
      if (d < 0 || d > now) return n;
      const t = this.pop()!;
      t.live = false;
      n++;
      t.fn();
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      this.down(0);
    }
    return top;
  }

  private less(a: Timer, b: Timer): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
