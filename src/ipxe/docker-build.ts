// Builds iPXE in Docker: streams the stage's context, builds it and copies the binaries out.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import tar from 'tar-stream';
import { BUILD_SCRIPT, finishBuild, installOutputs, IpxeBuildError, readManifest, type IpxeBuildResult, type IpxeBuildSettings } from './build.ts';
import { buildArgs, contextFiles, contextSourceName, IPXE_STAGE, packBuildContext, STAGE_OUTPUT_DIR, STAGE_RECORD } from './docker-context.ts';
import { parseBuildRecord } from './manifest.ts';

/** The image tag the iPXE stage is built under (replaced by every build). */
export const IPXE_IMAGE_TAG = 'bootstation-ipxe:latest';

/** One line of `docker build` output as the engine streams it. */
interface BuildEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Builds the iPXE stage in Docker from a streamed context, shows its output, then copies the binaries
 * out of the image into data/ipxe. Docker's layer cache makes an unchanged rebuild instant.
 */
export async function buildInDocker(settings: IpxeBuildSettings & { docker: Docker; baseImage: string; progress: (text: string) => void }): Promise<IpxeBuildResult> {
  const { docker } = settings;
  await docker.ping().catch((error: Error) => {
    throw new IpxeBuildError(`the Docker engine does not answer (${error.message}); start it, or build on this Linux host with --local`);
  });
  const files = contextFiles({ keymap: settings.keymap, httpPort: settings.httpPort, buildScript: await readFile(BUILD_SCRIPT, 'utf8'), pinText: await readFile(settings.pinFile, 'utf8') });
  const context = packBuildContext(files, settings.source);
  settings.log(`building the ${IPXE_STAGE} stage in Docker (base image ${settings.baseImage}, keymap ${settings.keymap}, targets ${settings.targets.join(',')})`);
  // tar-stream's pack is a streamx stream; docker-modem pipes a Node stream into the request. A source
  // that fails to read mid-way cuts the upload short; its error is the one reported.
  let failure: string | undefined;
  const body = Readable.from(context).on('error', (error: Error) => void (failure ??= `the build context could not be read (${error.message})`));
  const stream = await docker.buildImage(body, {
    t: IPXE_IMAGE_TAG,
    target: IPXE_STAGE,
    buildargs: buildArgs({ keymap: settings.keymap, targets: settings.targets, sourceName: contextSourceName(settings.source), baseImage: settings.baseImage }),
    rm: true,
    forcerm: true,
  });
  // A failed RUN arrives as an event with `error`; followProgress itself only fails on a broken stream.
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null) => (error ? reject(error) : resolve()),
      (event: BuildEvent) => {
        if (event.error) failure ??= event.errorDetail?.message ?? event.error;
        else if (event.stream) settings.progress(event.stream);
        else if (event.status) settings.progress(`${event.status}\n`);
      },
    );
  }).catch((error: unknown) => {
    failure ??= error instanceof Error ? error.message : String(error);
  });
  if (failure !== undefined) throw new IpxeBuildError(`the Docker build of the iPXE stage failed: ${failure.trim().split('\n')[0]}; the build output above says why`);

  const staging = await mkdtemp(join(tmpdir(), 'bootstation-ipxe-out-'));
  // Never started: the files are read from its filesystem. The engine wants a command even so, and an
  // image imported from debootstrap has none.
  const container = await docker.createContainer({ Image: IPXE_IMAGE_TAG, Cmd: ['true'] });
  try {
    await extractOutputs(await container.getArchive({ path: STAGE_OUTPUT_DIR }), staging);
    const record = parseBuildRecord(await readFile(join(staging, STAGE_RECORD), 'utf8').catch(() => {
      throw new IpxeBuildError(`the image ${IPXE_IMAGE_TAG} has no ${STAGE_OUTPUT_DIR}/${STAGE_RECORD}; its ${IPXE_STAGE} stage did not run scripts/build-ipxe.sh --record`);
    }));
    const previous = await readManifest(settings.ipxeDir);
    return await finishBuild(settings, await installOutputs(staging, record, settings.ipxeDir), previous);
  } finally {
    await container.remove({ force: true }).catch(() => {});
    await rm(staging, { recursive: true, force: true });
  }
}

// The archive of /out holds "out/<file>"; only plain files directly inside it are taken, by base name.
async function extractOutputs(archive: NodeJS.ReadableStream, into: string): Promise<void> {
  const extract = tar.extract();
  extract.on('entry', (header, body, next) => {
    const name = header.name.replace(/^\.?\/?out\//, '');
    if (header.type !== 'file' || name === '' || name.includes('/') || name.startsWith('.')) {
      body.resume();
      body.on('end', next);
      return;
    }
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      await writeFile(join(into, name), Buffer.concat(chunks));
    })().then(() => next(), next);
  });
  await pipeline(archive, extract);
}
