// The server's one ingest runner: a bounded queue (one entry per image) worked one image at a time, for the
// server's own ingests and the dashboard's, with transient failures retried after a capped, doubling wait.
import type { ImageConfig } from '../config/model.ts';
import { redactUrlsIn } from '../config/redact-url.ts';
import type { ProgressSink } from '../ingest/download.ts';
import { IngestErrorCode } from '../ingest/ingest-error.ts';
import type { IngestOutcome } from '../ingest/ingest-image.ts';
import type { BootEventSink } from './model.ts';

/**
 * Runs the ingest pipeline for one image, reporting download and extraction progress to `progress`; `automatic`
 * is true for the server's own ingests (they leave a rollback's pin alone), false for one a person started.
 */
export type RunIngest = (image: ImageConfig, progress: ProgressSink, how: { automatic: boolean; signal: AbortSignal }) => Promise<IngestOutcome>;

/** The timers the runner waits with; tests pass a fake clock. */
export interface IngestTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What the job runner needs; the pipeline, the clock and the timers are injected, so tests run without downloads. */
export interface IngestJobsOptions {
  images: () => readonly ImageConfig[];
  run: RunIngest;
  events: BootEventSink;
  now: () => number;
  /** Default: the global setTimeout. */
  timers?: IngestTimers;
  /** Least time between two progress events; default 500 ms, so a fast download does not flood the streams. */
  progressIntervalMs?: number;
  /** The wait after the first transient failure, doubled after each further one up to maxMs; default 1 min to 1 h. */
  retry?: { firstMs: number; maxMs: number };
}

/** Why an ingest did not start, or that it did. */
export type IngestStart = { started: true } | { started: false; reason: 'busy' | 'unknown-image' | 'not-ingestable'; running?: string };

/** What the runner knows about one image (absent: nothing to do, or it ended well). */
export type IngestJobState =
  | { phase: 'queued' }
  | { phase: 'running'; done?: number; total?: number }
  /** A transient failure (network, 5xx, another ingest holding the lock): tried again at retryAt. */
  | { phase: 'retrying'; retryAt: number; attempts: number; message: string }
  /** A failure retrying does not fix (checksum, signature, archive, 404): tried again only when asked or when the config changes. */
  | { phase: 'failed'; code: string; message: string };

/** The job runner. */
export interface IngestJobs {
  /** A person's ingest of `id` (the dashboard): starts now unless one is running; progress and the result arrive as events. */
  start(id: string): IngestStart;
  /** The server's own ingest of `id`: queued once (a queued or running image is not queued again), run in turn. */
  enqueue(id: string): void;
  /** The image being ingested, if any. */
  running(): string | undefined;
  /** Image id → what the runner is doing with it or why it stopped. */
  states(): ReadonlyMap<string, IngestJobState>;
  /** Resolves when nothing runs and nothing is queued (waits for retries are not waited for). */
  idle(): Promise<void>;
  /**
   * Cancels the waits for retries and aborts a running ingest (a shutdown, not a failure: nothing is recorded);
   * resolves when that ingest has stopped and cleaned up after itself.
   */
  close(): Promise<void>;
}

// Failures that go away by themselves: the download's own retries ran out on resets, timeouts or 5xx; the host or
// network was unreachable; a CLI ingest held the image's lock. Everything else (a checksum or signature mismatch,
// a bad archive, a 404) needs a person, so it is recorded and not tried again on a timer.
const TRANSIENT = new Set<string>([IngestErrorCode.RetriesExhausted, IngestErrorCode.Connection, IngestErrorCode.Dns, IngestErrorCode.Busy]);

const DEFAULT_RETRY = { firstMs: 60_000, maxMs: 3_600_000 };

/** Creates a runner with nothing queued. */
export function createIngestJobs(options: IngestJobsOptions): IngestJobs {
  const interval = options.progressIntervalMs ?? 500;
  const timers = options.timers ?? { setTimeout: (callback, ms) => setTimeout(callback, ms), clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout) };
  const retry = options.retry ?? DEFAULT_RETRY;
  // Insertion order is the queue order; `automatic` false for a person's ingest.
  const queue = new Map<string, { automatic: boolean }>();
  const states = new Map<string, IngestJobState>();
  const retryTimers = new Map<string, unknown>();
  const attempts = new Map<string, number>();
  let running: { id: string; done: Promise<void> } | undefined;
  let idleWaiters: Array<() => void> = [];
  let closed = false;
  const shutdown = new AbortController();

  const runOne = async (image: ImageConfig, automatic: boolean): Promise<void> => {
    const started = options.now();
    let lastProgress = Number.NEGATIVE_INFINITY;
    const progress: ProgressSink = {
      update(snapshot) {
        states.set(image.id, { phase: 'running', done: snapshot.received, ...(snapshot.total !== undefined ? { total: snapshot.total } : {}) });
        const now = options.now();
        if (now - lastProgress < interval) return;
        lastProgress = now;
        options.events.emit({ kind: 'ingest', image: image.id, phase: 'progress', done: snapshot.received, total: snapshot.total });
      },
      done() {},
    };
    states.set(image.id, { phase: 'running' });
    options.events.emit({ kind: 'ingest', image: image.id, phase: 'running' });
    try {
      const outcome = await options.run(image, progress, { automatic, signal: shutdown.signal });
      states.delete(image.id);
      attempts.delete(image.id);
      options.events.emit({ kind: 'ingest', image: image.id, phase: outcome.status, durationMs: options.now() - started });
    } catch (error) {
      // Aborted by close(): the server is stopping, so the image neither failed nor waits for a retry.
      if (shutdown.signal.aborted) {
        states.delete(image.id);
        return;
      }
      // Events reach the dashboard, its stream and /api/events: a source URL's credentials must not.
      const message = redactUrlsIn((error as Error).message);
      const code = String((error as { code?: unknown }).code ?? 'ERROR');
      if (TRANSIENT.has(code) && !closed) {
        const count = (attempts.get(image.id) ?? 0) + 1;
        attempts.set(image.id, count);
        const waitMs = Math.min(retry.maxMs, retry.firstMs * 2 ** (count - 1));
        states.set(image.id, { phase: 'retrying', retryAt: options.now() + waitMs, attempts: count, message });
        retryTimers.set(image.id, timers.setTimeout(() => {
          retryTimers.delete(image.id);
          enqueue(image.id, automatic);
        }, waitMs));
        options.events.emit({ kind: 'ingest', image: image.id, phase: 'retrying', durationMs: options.now() - started, message, retryInMs: waitMs });
      } else {
        attempts.delete(image.id);
        states.set(image.id, { phase: 'failed', code, message });
        options.events.emit({ kind: 'ingest', image: image.id, phase: 'failed', durationMs: options.now() - started, message });
      }
    }
  };

  const pump = (): void => {
    if (running) return;
    for (const [id, job] of queue) {
      queue.delete(id);
      const image = options.images().find((candidate) => candidate.id === id);
      // Removed from images.yaml (or made a dir source) while it waited.
      if (!image?.ingest) {
        states.delete(id);
        continue;
      }
      running = { id, done: runOne(image, job.automatic).finally(() => {
        running = undefined;
        pump();
      }) };
      return;
    }
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const enqueue = (id: string, automatic: boolean): void => {
    // An image being ingested is queued again all the same: its source may have changed since that run began.
    if (closed) return;
    const waiting = retryTimers.get(id);
    if (waiting !== undefined) {
      timers.clearTimeout(waiting);
      retryTimers.delete(id);
    }
    // A person's ingest of a queued image keeps its place but drops the automatic flag (it goes past a pin).
    const queued = queue.get(id);
    queue.set(id, { automatic: automatic && (queued?.automatic ?? true) });
    const phase = states.get(id)?.phase;
    if (phase !== 'retrying' && phase !== 'running') states.set(id, { phase: 'queued' });
    pump();
  };

  return {
    start(id) {
      if (running) return { started: false, reason: 'busy', running: running.id };
      const image = options.images().find((candidate) => candidate.id === id);
      if (!image) return { started: false, reason: 'unknown-image' };
      if (!image.ingest) return { started: false, reason: 'not-ingestable' };
      // First in line: nothing runs, so the queue is empty or about to be worked; this one goes before it.
      const rest = [...queue];
      queue.clear();
      attempts.delete(id);
      enqueue(id, false);
      for (const [other, job] of rest) if (other !== id) queue.set(other, job);
      return { started: true };
    },
    enqueue: (id) => enqueue(id, true),
    running: () => running?.id,
    states: () => states,
    idle: () => (running || queue.size > 0 ? new Promise<void>((resolve) => idleWaiters.push(resolve)) : Promise.resolve()),
    async close() {
      closed = true;
      // Queued images will not run: they are not "queued" any more either.
      for (const id of queue.keys()) states.delete(id);
      queue.clear();
      for (const handle of retryTimers.values()) timers.clearTimeout(handle);
      retryTimers.clear();
      shutdown.abort();
      // runOne never rejects: a failure becomes a state.
      await running?.done;
    },
  };
}
