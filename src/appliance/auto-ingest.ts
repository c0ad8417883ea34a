// What `serve` ingests by itself: on start and on each reload, the images that are not ready or whose source
// changed; every ingest.check_every, the images whose release can change upstream; on demand, any of them.
import { ingestSettingsOf, ingestsAutomatically, type BootstationConfig, type ImageConfig, type IngestSpec } from '../config/model.ts';
import type { IngestJobs, IngestTimers } from '../events/ingest-jobs.ts';
import { imageLayout } from '../files/data-dir.ts';
import { planIngest } from '../ingest/plan.ts';

/** What the auto-ingest needs: the live config, the one runner, timers (tests pass a fake clock). */
export interface AutoIngestOptions {
  config: () => BootstationConfig;
  dataDir: string;
  jobs: Pick<IngestJobs, 'enqueue'>;
  timers: IngestTimers;
  /** Where "queued X because Y" goes. */
  info: (fields: Record<string, unknown>, message: string) => void;
}

/** Why a check of one image cannot be queued. */
export type CheckRefusal = 'unknown-image' | 'not-ingestable';

/** The auto-ingest of a running server. */
export interface AutoIngest {
  /** Queues what the config in force needs: after the start (previous undefined) or a reload (the config before it). */
  configApplied(previous: BootstationConfig | undefined): Promise<string[]>;
  /** Checks for new releases now: image `id` (even with ingest: manual), or every automatic image. */
  checkNow(id?: string): { queued: string[] } | { refused: CheckRefusal };
  /** Stops the schedule. */
  close(): void;
}

/** Creates the auto-ingest; nothing is queued or scheduled until configApplied. */
export function createAutoIngest(options: AutoIngestOptions): AutoIngest {
  let schedule: { handle: unknown; everyMs: number } | undefined;
  let closed = false;

  const automaticImages = (): ImageConfig[] => {
    const config = options.config();
    const settings = ingestSettingsOf(config);
    return config.images.filter((image) => ingestsAutomatically(image, settings));
  };

  // The release check: images whose files can change while images.yaml stays the same.
  const scheduledCheck = (): void => {
    const queued = automaticImages().filter((image) => changesUpstream(image.ingest!)).map((image) => image.id);
    for (const id of queued) options.jobs.enqueue(id);
    if (queued.length > 0) options.info({ images: queued }, 'checking for new releases (ingest.check_every)');
    arm(ingestSettingsOf(options.config()).checkEveryMs);
  };

  const arm = (everyMs: number): void => {
    if (schedule) options.timers.clearTimeout(schedule.handle);
    schedule = closed ? undefined : { handle: options.timers.setTimeout(scheduledCheck, everyMs), everyMs };
  };

  return {
    async configApplied(previous) {
      const everyMs = ingestSettingsOf(options.config()).checkEveryMs;
      if (schedule?.everyMs !== everyMs) arm(everyMs);
      const queued: string[] = [];
      for (const image of automaticImages()) {
        const before = previous?.images.find((candidate) => candidate.id === image.id)?.ingest;
        const why = await reasonToIngest(image, options.dataDir, previous === undefined, before);
        if (why === undefined || closed) continue;
        options.jobs.enqueue(image.id);
        options.info({ image: image.id, why }, 'queued for ingest');
        queued.push(image.id);
      }
      return queued;
    },
    checkNow(id) {
      if (id === undefined) {
        const queued = automaticImages().map((image) => image.id);
        for (const each of queued) options.jobs.enqueue(each);
        return { queued };
      }
      const image = options.config().images.find((candidate) => candidate.id === id);
      if (!image) return { refused: 'unknown-image' };
      if (!image.ingest) return { refused: 'not-ingestable' };
      options.jobs.enqueue(id);
      return { queued: [id] };
    },
    close() {
      closed = true;
      if (schedule) options.timers.clearTimeout(schedule.handle);
      schedule = undefined;
    },
  };
}

/** Whether the files behind a source can change while images.yaml does not: a checksums list, or a release the recipe finds. */
export function changesUpstream(spec: IngestSpec): boolean {
  // A pinned codename or number (bookworm, 12) gets point releases too, so every release the recipe resolves is re-checked.
  return (spec.checksum !== undefined && 'listUrl' in spec.checksum) || spec.release !== undefined || spec.version === 'latest';
}

// Why the image is queued, or undefined: the plan says install (not ingested, files missing, source or checksum
// changed); its spec differs from the one before the reload; or, at start, a checksums list must be read to know.
async function reasonToIngest(image: ImageConfig, dataDir: string, starting: boolean, before: IngestSpec | undefined): Promise<string | undefined> {
  const spec = image.ingest!;
  if (!starting && !sameSpec(before, spec)) return 'its source changed in images.yaml';
  // The ingest module (and the downloader it loads) is loaded here, by the first server that needs it.
  const { readIngestState } = await import('../ingest/ingest-image.ts');
  const state = await readIngestState(image, spec, imageLayout(dataDir, image.id), { sourceMustBeReadable: false });
  const checksum = spec.checksum;
  const expected = checksum && 'algorithm' in checksum ? checksum : undefined;
  const decision = planIngest(image, spec, state, { force: false, expected }).decision;
  if (decision.kind === 'install') return decision.why === 'not-ingested' ? 'not ingested yet' : decision.why === 'files-missing' ? 'boot files are missing' : 'its source or checksum changed';
  if (decision.kind === 'compare-after-checksum-list' && starting) return 'its checksums list may name a new release';
  return undefined;
}

function sameSpec(a: IngestSpec | undefined, b: IngestSpec): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
