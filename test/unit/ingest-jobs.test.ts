// The ingest runner alone, with a fake pipeline and fake timers: one entry per image, one at a time, and the
// retry waits (doubling to the cap for transient failures, none for the others).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageConfig } from '../../src/config/model.ts';
import { createIngestJobs, type IngestTimers, type RunIngest } from '../../src/events/ingest-jobs.ts';
import { IngestError, IngestErrorCode } from '../../src/ingest/ingest-error.ts';
import type { ImageManifest } from '../../src/ingest/manifest.ts';

const image = (id: string): ImageConfig => ({ id, label: id, dir: `/d/${id}`, kernel: 'k', initrds: [], args: '', ingest: { from: { kind: 'path', path: `/a/${id}.iso` }, insecure: false, extract: [] } });
const images = [image('a'), image('b')];

function harness(outcomes: Array<Error | 'ok'>) {
  const waits: number[] = [];
  const pending: Array<() => void> = [];
  const timers: IngestTimers = { setTimeout: (callback, ms) => (waits.push(ms), pending.push(callback), callback), clearTimeout: () => {} };
  const runs: string[] = [];
  let inFlight = 0;
  let most = 0;
  const run: RunIngest = async (target) => {
    runs.push(target.id);
    most = Math.max(most, ++inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    inFlight--;
    const next = outcomes.shift() ?? 'ok';
    if (next !== 'ok') throw next;
    return { status: 'installed', manifest: {} as ImageManifest };
  };
  const events: string[] = [];
  const jobs = createIngestJobs({ images: () => images, run, events: { emit: (event) => event.kind === 'ingest' && events.push(`${event.image} ${event.phase}`) }, now: () => 0, timers, retry: { firstMs: 100, maxMs: 400 } });
  return { jobs, runs, waits, pending, events, most: () => most };
}

test('an image is queued once however often it is asked for, and images run one at a time', async () => {
  const { jobs, runs, most } = harness([]);
  for (let i = 0; i < 1000; i++) jobs.enqueue('a');
  for (let i = 0; i < 1000; i++) jobs.enqueue('b');
  await jobs.idle();
  // a starts at once; the 999 further requests for a while it runs become one more run, in line before b.
  assert.deepEqual(runs, ['a', 'a', 'b']);
  assert.equal(most(), 1);
  assert.deepEqual([...jobs.states()], [], 'nothing left once all ended well');
});

test('transient failures wait firstMs, doubling to maxMs; a permanent one is recorded and not retried', async () => {
  const transient = (): IngestError => new IngestError(IngestErrorCode.RetriesExhausted, 'downloading x failed 6 times in a row (HTTP 503); run ingest again later');
  const { jobs, waits, pending, events } = harness([transient(), transient(), transient(), transient(), new IngestError(IngestErrorCode.ChecksumMismatch, 'bad digest; check it')]);
  jobs.enqueue('a');
  for (let round = 0; round < 4; round++) {
    await jobs.idle();
    assert.equal(jobs.states().get('a')?.phase, 'retrying');
    pending.shift()!();
  }
  await jobs.idle();
  assert.deepEqual(waits, [100, 200, 400, 400]);
  assert.deepEqual(jobs.states().get('a'), { phase: 'failed', code: IngestErrorCode.ChecksumMismatch, message: 'bad digest; check it' });
  assert.equal(pending.length, 0, 'no retry is scheduled for a checksum mismatch');
  assert.deepEqual(events.filter((e) => !e.endsWith('running')), ['a retrying', 'a retrying', 'a retrying', 'a retrying', 'a failed']);
});

test('a person\'s start runs now unless one is running (busy), and knows unknown and dir images', async () => {
  const { jobs } = harness([]);
  assert.deepEqual(jobs.start('a'), { started: true });
  assert.deepEqual(jobs.start('b'), { started: false, reason: 'busy', running: 'a' });
  await jobs.idle();
  assert.deepEqual(jobs.start('nope'), { started: false, reason: 'unknown-image' });
});
