// The command line: parses arguments, dispatches to each command, maps errors to exit codes 0, 1 and 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isIPv4 } from 'node:net';
import pino from 'pino';
import { ConfigError } from '../config/parse.ts';
import { KeymapError, parseKeymap, type IpxeKeymap } from '../ipxe/keymap.ts';
import { parseTargets, TargetsError, type IpxeTargetName } from '../ipxe/targets.ts';
import type { ServeOptions } from './serve.ts';
import { UnknownImageError } from './unknown-image-error.ts';

/** Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

const USAGE = `Usage: bootstation <command> [options]

Commands:
  serve      Serve ProxyDHCP, TFTP and HTTP (iPXE scripts, menu, boot files)
  validate   Check images.yaml and print a summary
  lab        Boot a VM through bootstation in a private virtual network (root, QEMU)
  ipxe build Build iPXE with the keymap and embedded script into <data>/ipxe (Docker, or --local)
  ingest     Download, verify and extract the images with url or path sources: ingest [ID...]
  images     List every image with its state, version, size, disk use and last ingest;
             images check [ID...] ingests new releases now; images rollback ID serves the previous version
  doctor     Check ports, interface, other PXE servers, iPXE binaries, HTTP and images; one line each with the fix

Common options:
  --config FILE     images.yaml to use (default ./images.yaml, env BOOTSTATION_CONFIG)
  --data DIR        data directory (default ./data, env BOOTSTATION_DATA)
  -h, --help        show this help

serve and doctor options:
  --interface NAME  interface to serve on (default: server.interface, else the default route's)
  --address IP      IPv4 address advertised to clients (default: server.address, else the interface's)
  --http-port N     HTTP port (default: server.http_port, else 80)
  --http-listen L   more addresses for HTTP, comma-separated, or all (default: server.http_listen);
                    it always listens on the serving address and 127.0.0.1
  --tftp-port N     TFTP port (default 69)
  --dhcp-port N     ProxyDHCP port (default 67)
  --pxe-port N      PXE boot server port (default 4011)
  --no-proxy-dhcp   do not answer DHCP; the router hands out next-server and filename
  Environment (the command line wins, and both win over images.yaml): BOOTSTATION_INTERFACE,
  BOOTSTATION_ADDRESS, BOOTSTATION_HTTP_PORT, BOOTSTATION_HTTP_LISTEN, BOOTSTATION_PROXY_DHCP (true or false),
  BOOTSTATION_LOG_LEVEL; BOOTSTATION_IMAGE_IPXE (set by the container image) makes serve write a
  starter config when there is none and copy the image's iPXE binaries into <data>/ipxe

ingest options:
  --force           ingest again even when source and checksum did not change
  --dry-run         print what would be fetched and extracted; change nothing

images options:
  --json            print JSON instead of a table

lab options:
  --firmware KIND   bios (default), efi (x64 UEFI), efi32 (32-bit UEFI) or arm64 (arm64 UEFI); efi-http,
                    efi32-http and arm64-http start with UEFI HTTP Boot instead of PXE
  --config FILE     serve this images.yaml in the lab (default: a test kernel and initrd)

ipxe build options:
  --keymap NAME     keyboard layout (default: ipxe.keymap, else us)
  --targets LIST    comma-separated bios,efi64,efi32,arm64 (default: all four)
  --source PATH     a local copy: the release tarball (checked against the pin) or a source folder (built as
                    it is); default: download the release ipxe-src/pin.json names and check it
  --mirror URL      download the pinned release from this URL instead (checked against the pin the same way)
  --pin FILE        pin another release: a JSON file like ipxe-src/pin.json (version, commit, url, tar_sha256)
  --local           build on this host (gcc, make, perl, liblzma-dev) instead of in Docker
  --http-port N     port baked into the embedded script (default: server.http_port, else 80)
`;

const OPTIONS = {
  config: { type: 'string' },
  data: { type: 'string' },
  interface: { type: 'string' },
  address: { type: 'string' },
  'http-port': { type: 'string' },
  'http-listen': { type: 'string' },
  'tftp-port': { type: 'string' },
  'dhcp-port': { type: 'string' },
  'pxe-port': { type: 'string' },
  'no-proxy-dhcp': { type: 'boolean' },
  firmware: { type: 'string' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  keymap: { type: 'string' },
  targets: { type: 'string' },
  source: { type: 'string' },
  mirror: { type: 'string' },
  pin: { type: 'string' },
  local: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

type ParsedValues = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** An invalid command line; printed with the usage and exit code 2. */
export class UsageError extends Error {
  readonly code = 'BOOTSTATION_USAGE';
}

/** Runs the command line and resolves to the process exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    return usageFailure((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  // "ipxe" and "images" have subcommands (images also works without one).
  const subcommand = command === 'ipxe' || command === 'images' ? rest.shift() : undefined;
  const takesIds = command === 'ingest' || (command === 'images' && (subcommand === 'check' || subcommand === 'rollback'));
  if (rest.length > 0 && !takesIds) return usageFailure(`unexpected argument "${rest[0]}"`);
  const common = {
    configPath: values.config ?? env['BOOTSTATION_CONFIG'] ?? 'images.yaml',
    dataDir: values.data ?? env['BOOTSTATION_DATA'] ?? 'data',
  };
  try {
    // Each command loads its own modules: the long-running server does not carry the Docker client or the lab.
    switch (command) {
      case 'validate':
        return await (await import('./validate.ts')).runValidate(common);
      case 'serve': {
        // The container image sets BOOTSTATION_IMAGE_IPXE: the core's first start seeds the volumes from it.
        const options = { ...networkOptions(values, common, env), imageIpxeDir: nonEmpty(env['BOOTSTATION_IMAGE_IPXE']) };
        const log = pino({ name: 'bootstation', level: logLevel(env) });
        return await (await import('./serve.ts')).runServe(options, log);
      }
      case 'ingest':
        return await (await import('./ingest.ts')).runIngest({ ...common, ids: rest, force: values.force === true, dryRun: values['dry-run'] === true });
      case 'images': {
        const images = await import('./images.ts');
        if (subcommand === undefined) return await images.runImages({ ...common, json: values.json === true });
        if (subcommand === 'check') return await images.runImagesCheck({ ...common, ids: rest });
        if (subcommand !== 'rollback') return usageFailure(`unknown images subcommand "${subcommand}"; there are: images check [ID...], images rollback ID`);
        if (rest.length !== 1) return usageFailure('images rollback needs one image id: images rollback ID');
        return await images.runImagesRollback({ ...common, id: rest[0]! });
      }
      case 'doctor':
        return await (await import('./doctor.ts')).runDoctor(networkOptions(values, common, env));
      case 'lab':
        return await (await import('./lab.ts')).runLab({
          firmware: values.firmware,
          configPath: values.config ?? env['BOOTSTATION_CONFIG'],
          dataDir: common.dataDir,
        });
      case 'ipxe':
        if (subcommand !== 'build') return usageFailure(subcommand === undefined ? 'ipxe needs a subcommand: ipxe build' : `unknown ipxe subcommand "${subcommand}"; the one there is: ipxe build`);
        return await (await import('./ipxe.ts')).runIpxeBuild({
          ...common,
          keymap: keymapOption(values.keymap),
          targets: targetsOption(values.targets),
          source: values.source,
          mirror: mirrorOption(values.mirror, values.source),
          pin: values.pin,
          local: values.local === true,
          httpPort: portOption('--http-port', values['http-port']),
        }, env);
      case undefined:
        return usageFailure('no command given');
      default:
        return usageFailure(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error.message);
    if (error instanceof ConfigError || error instanceof UnknownImageError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`bootstation: ${(error as Error).message}\n`);
    return EXIT.failure;
  }
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

// BOOTSTATION_LOG_LEVEL=debug shows why each ignored DHCP packet was ignored; trace shows whole packets.
function logLevel(env: NodeJS.ProcessEnv): string {
  const level = env['BOOTSTATION_LOG_LEVEL'] ?? 'info';
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`BOOTSTATION_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not "${level}"`);
  return level;
}

// serve and doctor read the same network options, so doctor checks exactly what serve would use. The
// environment variables are for containers (compose.yaml), where images.yaml is the user's file and the
// command line is the image's.
function networkOptions(values: ParsedValues, common: { configPath: string; dataDir: string }, env: NodeJS.ProcessEnv): ServeOptions {
  return {
    ...common,
    interface: values.interface ?? nonEmpty(env['BOOTSTATION_INTERFACE']),
    address: values.address ?? nonEmpty(env['BOOTSTATION_ADDRESS']),
    httpPort: portOption('--http-port', values['http-port']) ?? portOption('BOOTSTATION_HTTP_PORT', nonEmpty(env['BOOTSTATION_HTTP_PORT'])),
    httpListen: listenOption('--http-listen', values['http-listen']) ?? listenOption('BOOTSTATION_HTTP_LISTEN', nonEmpty(env['BOOTSTATION_HTTP_LISTEN'])),
    tftpPort: portOption('--tftp-port', values['tftp-port']) ?? 69,
    dhcpPort: portOption('--dhcp-port', values['dhcp-port']) ?? 67,
    pxePort: portOption('--pxe-port', values['pxe-port']) ?? 4011,
    proxyDhcp: values['no-proxy-dhcp'] ? false : booleanOption('BOOTSTATION_PROXY_DHCP', nonEmpty(env['BOOTSTATION_PROXY_DHCP'])),
  };
}

// compose.yaml passes "${VAR:-}" for options the user left unset: an empty value means unset.
function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function booleanOption(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new UsageError(`${name} must be true or false, not "${value}"`);
}

// "all", or IPv4 addresses separated by commas.
function listenOption(name: string, value: string | undefined): string[] | 'all' | undefined {
  if (value === undefined) return undefined;
  if (value === 'all') return 'all';
  const addresses = value.split(',').map((address) => address.trim());
  const bad = addresses.find((address) => !isIPv4(address));
  if (bad !== undefined) throw new UsageError(`${name} must be "all" or IPv4 addresses separated by commas (e.g. 10.77.0.2,127.0.0.1), not "${bad}"`);
  return addresses;
}

function portOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new UsageError(`${name} must be a port number from 0 to 65535, not "${value}"`);
  return port;
}

function keymapOption(value: string | undefined): IpxeKeymap | undefined {
  try {
    return value === undefined ? undefined : parseKeymap(value);
  } catch (error) {
    throw error instanceof KeymapError ? new UsageError(error.message) : error;
  }
}

function targetsOption(value: string | undefined): IpxeTargetName[] | undefined {
  try {
    return value === undefined ? undefined : parseTargets(value);
  } catch (error) {
    throw error instanceof TargetsError ? new UsageError(error.message) : error;
  }
}

// A mirror replaces where the pinned release comes from; a local copy needs no download at all.
function mirrorOption(value: string | undefined, source: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (source !== undefined) throw new UsageError('--mirror and --source both say where the iPXE source comes from; give one of them');
  if (!/^https?:\/\/\S+$/.test(value)) throw new UsageError(`--mirror must be the http(s) URL of the release tarball, not "${value.slice(0, 80)}"`);
  return value;
}

function usageFailure(message: string): number {
  process.stderr.write(`bootstation: ${message}\n\n${USAGE}`);
  return EXIT.usage;
}
