import assert from 'node:assert/strict';

/** Awaits a promise that must reject with an instance of errorClass, and returns that error for more checks. */
export async function rejectionOf<E extends Error>(promise: Promise<unknown>, errorClass: new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${errorClass.name}, but it resolved`);
}
