// Bounded synchronous polling for what the kernel finishes on its own a moment later (a child
// exiting, a cgroup emptying). The first pauses are short: what is waited for is usually done
// within a millisecond, and a fixed 5-10 ms pause was the longest wait of `skiff create` and of
// `delete --force`. The pause then doubles up to `maxPauseMs`, so a slow case costs no CPU.

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Calls `done` until it returns true or about `totalMs` have passed; returns its last answer. */
export function pollUntil(done: () => boolean, totalMs: number, maxPauseMs = 10): boolean {
  let waited = 0;
  for (let ms = 0.1; ; ms = Math.min(ms * 2, maxPauseMs)) {
    if (done()) return true;
    if (waited >= totalMs) return false;
    Atomics.wait(pause, 0, 0, ms);
    waited += ms;
  }
}
