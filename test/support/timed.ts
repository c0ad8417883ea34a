// A time bound on a pure call over hostile input: a parser that backtracks or loops fails the test instead of passing slowly.
import assert from 'node:assert/strict';

/** Runs `run` and asserts it returned (or threw) within `boundMs`. */
export function timed<T>(run: () => T, boundMs: number): T {
  const started = performance.now();
  try {
    return run();
  } finally {
    assert.ok(performance.now() - started < boundMs, `took ${Math.round(performance.now() - started)} ms, bound ${boundMs} ms`);
  }
}
