// The appliance container as the Docker tests run it: a build context holding a stand-in iPXE release, the
// lab's NAS namespace with a dockerd of its own that runs the image with the repository's compose.yaml, and
// VMs that netboot through the container. Shared by test/e2e/docker.test.ts (amd64) and docker-arm64.test.ts.
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeBoot } from '../../tools/lab/diagnostics.ts';
import { LAB_IMAGE_ARGS, LAB_IMAGE_ID, LAB_PAYLOAD_FILE, prepareLabImage, renderLabConfig } from '../../tools/lab/lab-image.ts';
import { startLab, waitForSerial, type Lab } from '../../tools/lab/lab.ts';
import { tailFile } from '../../tools/lab/processes.ts';
import { cleanSerialText, furthestBootStep } from '../../tools/lab/serial-report.ts';
import { ensureTestKernel } from '../../tools/lab/test-kernel.ts';
import type { LabFirmware } from '../../tools/lab/topology.ts';
import { copyImage, run, startDockerd, type TestDockerd } from './docker-engine.ts';
import { createStandInIpxeSource, createStandInRelease, writePin, type StandInRelease } from './ipxe-stand-in-source.ts';

/** The checkout the image is built from. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The image compose.yaml runs, and the container it names. */
export const IMAGE = 'bootstation:latest';
export const CONTAINER = 'bootstation';
/** The lab's NAS address and the HTTP port the container serves on there. */
export const NAS = '10.77.0.2';
export const HTTP_PORT = 8080;
/** The image's user (Dockerfile: useradd --uid 10001), who must own the bind-mounted folders. */
export const APP_UID = 10001;
const COMPOSE_FILE = join(REPO, 'compose.yaml');
const BASE_URL = `http://${NAS}:${HTTP_PORT}/images/${LAB_IMAGE_ID}/`;
// What the build context holds (.dockerignore admits only these), copied from the checkout.
const CONTEXT_PATHS = ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'scripts/build-ipxe.sh', 'ipxe-src'];
// Debian's iPXE binaries (the ipxe package), which the VMs boot.
const DEBIAN_IPXE = '/usr/lib/ipxe';

/** Everything one Docker test started, so that stopAppliance can end it whatever failed. */
export interface Appliance {
  /** docker-compose's project name and the lab's namespace prefix. */
  project: string;
  labPrefix: string;
  workDir: string;
  buildLog: string;
  projectDir: string;
  builder?: TestDockerd;
  nas?: TestDockerd;
  lab?: Lab;
  payloadSha256?: string;
  release?: StandInRelease;
  /** Set by a failed step: the logs and serial consoles stay in workDir. */
  failed: boolean;
  progress(line: string): void;
}

/** A new appliance record; useWorkDir gives it its folder. */
export function newAppliance(options: { project: string; labPrefix: string; label: string }): Appliance {
  return { ...options, workDir: '', buildLog: '', projectDir: '', failed: false, progress: (line) => void process.stderr.write(`${options.label}: ${line}\n`) };
}

/** Puts the appliance's logs, contexts and project folder under workDir (made by the caller). */
export function useWorkDir(app: Appliance, workDir: string): void {
  Object.assign(app, { workDir, buildLog: join(workDir, 'image-build.log'), projectDir: join(workDir, 'project') });
}

/** Runs a test step; a failure marks the appliance failed, so that its logs and serial consoles stay. */
export async function step<T>(app: Appliance, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    app.failed = true;
    throw error;
  }
}

/**
 * Builds IMAGE in the build engine from context with `docker build` and these arguments, and returns its output
 * (also in app.buildLog). apt-get and npm ci fetch from the internet: one failed fetch gets a second build
 * (the steps done stay cached). The build containers use the host's network: the engines have no bridge.
 */
export async function buildImage(app: Appliance, options: { context: string; buildArgs: Record<string, string>; platform?: string; timeoutMs: number }): Promise<string> {
  const builder = app.builder;
  assert.ok(builder, 'the build engine runs');
  // Only BuildKit builds for another platform; its progress goes to stderr.
  const platform = options.platform ? ['--platform', options.platform, '--progress', 'plain'] : [];
  const argv = ['build', ...platform, '--network', 'host', '--tag', IMAGE, ...Object.entries(options.buildArgs).flatMap(([key, value]) => ['--build-arg', `${key}=${value}`]), options.context];
  const build = (): Promise<string> => builder.docker(argv, { timeoutMs: options.timeoutMs / 2, buildKit: platform.length > 0, withStderr: platform.length > 0 });
  const output = await build()
    .catch((error: Error) => {
      app.progress(`docker build failed once, building again: ${error.message.split('\n').slice(-3).join(' / ')}`);
      return build();
    })
    .catch(async (error: Error) => {
      await writeFile(app.buildLog, error.message);
      throw new Error(`docker build ${platform.join(' ')} of the repository's Dockerfile failed\n${await story(app)}`);
    });
  await writeFile(app.buildLog, output);
  return output;
}

/** docker-compose with the repository's compose.yaml, the test's project folder and the NAS engine. */
export function compose(app: Appliance, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  assert.ok(app.nas, 'the NAS engine runs');
  return run(['docker-compose', '--project-directory', app.projectDir, '--project-name', app.project, '--file', COMPOSE_FILE, ...args], {
    cwd: app.projectDir,
    timeoutMs,
    env: {
      ...app.nas.env,
      // compose.yaml's environment section takes these from the caller's environment.
      BOOTSTATION_INTERFACE: 'eth0',
      BOOTSTATION_ADDRESS: NAS,
      BOOTSTATION_HTTP_PORT: String(HTTP_PORT),
      BOOTSTATION_LOG_LEVEL: 'info',
    },
  });
}

/** The container's log, or why there is none. */
export async function containerLogs(app: Appliance): Promise<string> {
  return app.nas ? app.nas.docker(['logs', CONTAINER]).then((out) => out, (error: Error) => error.message) : '(no NAS engine)';
}

/** What a failure prints: the engines' logs, the build log and the container's log. */
export async function story(app: Appliance): Promise<string> {
  const parts = [`--- image build log, last 30 lines (${app.buildLog})`, await tailFile(app.buildLog, 30)];
  for (const [name, engine] of [['build', app.builder], ['NAS', app.nas]] as const) {
    if (engine) parts.push(`--- dockerd (${name}) log, last 15 lines (${engine.logFile})`, await tailFile(engine.logFile, 15));
  }
  parts.push('--- container log, last 25 lines', (await containerLogs(app)).split('\n').slice(-25).join('\n'));
  return parts.join('\n');
}

/** `docker inspect --format` of the container. */
export async function inspect(app: Appliance, format: string): Promise<string> {
  assert.ok(app.nas);
  return (await app.nas.docker(['inspect', '--format', format, CONTAINER])).trim();
}

/** Polls check every second; fails with the story after timeoutMs. */
export async function waitUntil(app: Appliance, what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) assert.fail(`${what} within ${timeoutMs / 1000} s\n${await story(app)}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * The build context as an air-gapped site prepares it: the checkout's files, the release tarball under
 * ipxe-src/source/, and (since this release is a stand-in) a pin naming it. The repository is not touched.
 */
export async function prepareContext(app: Appliance): Promise<string> {
  const context = join(app.workDir, 'context');
  await mkdir(join(context, 'scripts'), { recursive: true });
  for (const path of CONTEXT_PATHS) await run(['cp', '-a', join(REPO, path), join(context, path)]);
  await rm(join(context, 'ipxe-src', 'source'), { recursive: true, force: true });
  const source = join(app.workDir, 'stand-in-ipxe-source');
  await createStandInIpxeSource(source, '/tmp/stand-in-record-in-the-ipxe-stage');
  app.release = await createStandInRelease(source, join(app.workDir, 'release'), 'ipxe-2.0.0');
  await mkdir(join(context, 'ipxe-src', 'source'), { recursive: true });
  await run(['cp', app.release.gzip, join(context, 'ipxe-src', 'source', 'ipxe-2.0.0.tar.gz')]);
  await writePin(join(context, 'ipxe-src', 'pin.json'), { commit: app.release.commit, url: 'https://mirror.invalid/ipxe-2.0.0.tar.gz', tarSha256: app.release.tarSha256 });
  return context;
}

/**
 * Starts the lab and a dockerd in its NAS namespace, moves the built image there, and prepares the project
 * folder as the README says (config/ and data/ owned by the image's user), with the lab image in the data
 * volume, where the container sees it as /data/lab-image.
 */
export async function startNas(app: Appliance): Promise<void> {
  assert.ok(app.builder, 'the build engine runs');
  const kernel = await ensureTestKernel();
  const labDir = join(app.workDir, 'lab');
  await mkdir(labDir, { recursive: true });
  app.lab = await startLab({ prefix: app.labPrefix, workDir: labDir });
  const lab = app.lab;
  app.nas = await startDockerd(join(app.workDir, 'engine-nas'), (argv) => lab.startIn('nas', 'dockerd-nas', argv, 'network-only'));
  await copyImage(app.builder, app.nas, IMAGE);
  for (const folder of ['config', 'data']) await mkdir(join(app.projectDir, folder), { recursive: true });
  const image = await prepareLabImage(join(app.projectDir, 'data', 'lab-image'), kernel);
  app.payloadSha256 = image.payloadSha256;
  await run(['chown', '-R', `${APP_UID}:${APP_UID}`, join(app.projectDir, 'config'), join(app.projectDir, 'data')]);
}

/**
 * Stand-in binaries cannot boot: Debian's iPXE goes into data/ipxe as the user's own build (no manifest, no
 * .from-image marker), which first start would keep, and the lab config into images.yaml. The manifest goes
 * last: the running server looks at the folder again when it disappears.
 */
export async function serveLabImageWithDebianIpxe(app: Appliance): Promise<void> {
  const ipxeDir = join(app.projectDir, 'data', 'ipxe');
  const debian = ['undionly.kpxe', 'ipxe.efi', 'snponly.efi'];
  for (const file of debian) await run(['cp', join(DEBIAN_IPXE, file), join(ipxeDir, file)]);
  await run(['chown', '-R', `${APP_UID}:${APP_UID}`, ipxeDir]);
  for (const name of await readdir(ipxeDir)) if (!debian.includes(name) && name !== 'manifest.json') await rm(join(ipxeDir, name), { force: true });
  await rm(join(ipxeDir, 'manifest.json'));
  await waitUntil(app, 'the container serves the binaries as custom ones', async () => /serving custom iPXE binaries from the data directory/.test(await containerLogs(app)), 60_000);
  // The running server reloads images.yaml on its own when the file changes.
  await writeFile(join(app.projectDir, 'config', 'images.yaml'), renderLabConfig({ dir: '/data/lab-image' }, 1));
  await waitUntil(app, 'the container applied the lab config', async () => /"images":1\b.*"msg":"configuration reloaded"/.test(await containerLogs(app)), 60_000);
}

/** Boots a lab VM through the container to the test initrd and checks its command line and netboot= fetch; returns the seconds it took. */
export async function bootThroughContainer(app: Appliance, t: TestContext, firmware: LabFirmware, timeoutMs: number): Promise<number> {
  const { lab } = app;
  assert.ok(lab);
  const vm = await lab.startVm(firmware);
  const wait = await waitForSerial(vm, (report) => report.done, timeoutMs);
  // describeBoot shows lab.bootstationLog; here bootstation's log is the container's.
  await writeFile(lab.bootstationLog, await containerLogs(app));
  const boot = await describeBoot(lab, vm, wait);
  t.diagnostic(`${firmware}: ${wait.outcome} after ${(wait.elapsedMs / 1000).toFixed(1)} s, furthest step ${furthestBootStep(wait.serial) ?? 'none'}`);
  assert.ok(wait.report.marker, `the ${firmware} VM did not reach the test initrd through the container\n${boot}`);
  const expectedArgs = LAB_IMAGE_ARGS.replace('${base-url}', BASE_URL);
  assert.ok(wait.report.cmdline?.endsWith(` ${expectedArgs}`), `${firmware}: the kernel command line should end with\n  ${expectedArgs}\nbut is\n  ${wait.report.cmdline}\n${boot}`);
  assert.deepEqual(wait.report.netboot, { ok: true, sha256: app.payloadSha256, url: `${BASE_URL}${LAB_PAYLOAD_FILE}` }, `${firmware}: netboot= fetch\n${boot}`);
  if (firmware === 'efi') assert.match(cleanSerialText(wait.serial), /NBP filename is ipxe\.efi/, `efi: EDK2 should be offered ipxe.efi\n${boot}`);
  return wait.elapsedMs / 1000;
}

/** Containers first (their processes live in the NAS namespace), then the engines by pid, then the lab; the folder goes unless a step failed. */
export async function stopAppliance(app: Appliance): Promise<void> {
  if (app.nas) await compose(app, ['down', '--timeout', '5']).catch((error: Error) => app.progress(`docker-compose down: ${error.message}`));
  await app.nas?.stop();
  await app.builder?.stop();
  await app.lab?.close();
  if (app.failed) app.progress(`kept the logs and serial consoles in ${app.workDir}`);
  else if (app.workDir) await rm(app.workDir, { recursive: true, force: true });
}
