// Ingests started from the dashboard: one at a time, in this process, reported as boot events.
import type { ImageConfig } from '../config/model.ts';
import { redactUrlsIn } from '../config/redact-url.ts';
import type { ProgressSink } from '../ingest/download.ts';
import type { IngestOutcome } from '../ingest/ingest-image.ts';
import type { BootEventSink } from './model.ts';

/** Runs the ingest pipeline for one image, reporting download and extraction progress to `progress`. */
export type RunIngest = (image: ImageConfig, progress: ProgressSink) => Promise<IngestOutcome>;

/** What the job runner needs; the pipeline and the clock are injected, so tests run without downloads. */
export interface IngestJobsOptions {
  images: () => readonly ImageConfig[];
  run: RunIngest;
  events: BootEventSink;
  now: () => number;
  /** Least time between two progress events; default 500 ms, so a fast download does not flood the streams. */
  progressIntervalMs?: number;
}

/** Why an ingest did not start, or that it did. */
export type IngestStart = { started: true } | { started: false; reason: 'busy' | 'unknown-image' | 'not-ingestable'; running?: string };

/** The job runner. */
export interface IngestJobs {
  /** Starts an ingest of `id` unless one is running; progress and the result arrive as events. */
  start(id: string): IngestStart;
  /** The image being ingested, if any. */
  running(): string | undefined;
  /** Resolves when the running ingest (if any) has ended. */
  idle(): Promise<void>;
}

/** Creates a runner with nothing running. */
export function createIngestJobs(options: IngestJobsOptions): IngestJobs {
  const interval = options.progressIntervalMs ?? 500;
  let running: { id: string; done: Promise<void> } | undefined;

  const runOne = async (image: ImageConfig): Promise<void> => {
    const started = options.now();
    let lastProgress = Number.NEGATIVE_INFINITY;
    const progress: ProgressSink = {
      update(snapshot) {
        const now = options.now();
        if (now - lastProgress < interval) return;
        lastProgress = now;
        options.events.emit({ kind: 'ingest', image: image.id, phase: 'progress', done: snapshot.received, total: snapshot.total });
      },
      done() {},
    };
    options.events.emit({ kind: 'ingest', image: image.id, phase: 'running' });
    try {
      const outcome = await options.run(image, progress);
      options.events.emit({ kind: 'ingest', image: image.id, phase: outcome.status, durationMs: options.now() - started });
    } catch (error) {
      // Events reach the dashboard, its stream and /api/events: a source URL's credentials must not.
      const message = redactUrlsIn((error as Error).message);
      options.events.emit({ kind: 'ingest', image: image.id, phase: 'failed', durationMs: options.now() - started, message });
    }
  };

  return {
    start(id) {
      if (running) return { started: false, reason: 'busy', running: running.id };
      const image = options.images().find((candidate) => candidate.id === id);
      if (!image) return { started: false, reason: 'unknown-image' };
      if (!image.ingest) return { started: false, reason: 'not-ingestable' };
      const job = { id, done: runOne(image).finally(() => (running = undefined)) };
      running = job;
      return { started: true };
    },
    running: () => running?.id,
    idle: () => running?.done ?? Promise.resolve(),
  };
}
