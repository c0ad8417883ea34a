// The ingest runner's close(), with a fake pipeline: it aborts the running ingest through the signal, waits until
// that ingest has cleaned up, records no failure and schedules no retry for it, and starts nothing queued.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageConfig } from '../../src/config/model.ts';
import { createIngestJobs, type IngestTimers, type RunIngest } from '../../src/events/ingest-jobs.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';

const image = (id: string): ImageConfig => ({ id, label: id, dir: `/d/${id}`, kernel: 'k', initrds: [], args: '', ingest: { from: { kind: 'path', path: `/a/${id}.iso` }, insecure: false, extract: [] } });
const images = [image('a'), image('b')];

for (const [what, failure] of [
  ['the signal\'s reason', (signal: AbortSignal): unknown => signal.reason],
  // A step that wraps the abort in an error of its own (a download's "retries exhausted") is not retried either.
  ['a transient IngestError', (): unknown => new IngestError(IngestErrorCode.RetriesExhausted, 'downloading x failed 6 times in a row (ERR_ABORTED); run ingest again later')],
] as const) {
  test(`close() aborts the running ingest and resolves once it has cleaned up; rejecting with ${what} is no failure and gets no retry`, async () => {
    const runs: string[] = [];
    let cleanedUp = false;
    const run: RunIngest = async (target, _progress, how) => {
      runs.push(target.id);
      await new Promise<void>((resolve) => how.signal.addEventListener('abort', () => resolve(), { once: true }));
      // The staging folder and the lock take a moment to remove.
      await new Promise((resolve) => setTimeout(resolve, 20));
      cleanedUp = true;
      throw failure(how.signal);
    };
    const timers: IngestTimers = { setTimeout: () => assert.fail('no retry may be scheduled'), clearTimeout: () => {} };
    const events: string[] = [];
    const jobs = createIngestJobs({ images: () => images, run, events: { emit: (event) => event.kind === 'ingest' && events.push(`${event.image} ${event.phase}`) }, now: () => 0, timers });
    jobs.enqueue('a');
    jobs.enqueue('b');
    assert.equal(jobs.running(), 'a');

    await jobs.close();
    assert.ok(cleanedUp, 'close() resolved before the aborted ingest had cleaned up');
    assert.equal(jobs.running(), undefined);
    assert.deepEqual([...jobs.states()], [], 'a is neither failed nor retrying, b no longer queued');
    assert.deepEqual(events, ['a running'], 'no failed or retrying event');
    await jobs.idle();
    jobs.enqueue('b');
    assert.deepEqual(runs, ['a'], 'nothing starts after close()');
  });
}

test('close() with nothing running resolves at once', async () => {
  const jobs = createIngestJobs({ images: () => images, run: () => assert.fail('nothing runs'), events: { emit: () => {} }, now: () => 0 });
  await jobs.close();
  assert.equal(jobs.running(), undefined);
});
