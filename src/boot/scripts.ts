// Renders /boot.ipxe and /menu.ipxe for one client from the live configuration. Pure.
import type { BootSpec, BootstationConfig, ImageConfig } from '../config/model.ts';
import { clientPlatform, clientQuery, firmwareFamily, type BootClient } from './client.ts';
import { chooseBootSpec, type BootChoice, type KernelHeaders } from './kernel-fit.ts';
import type { PlatformId } from './platform.ts';
import { ipxeUrl, ipxeWords, setKeymapCommand, urlPath } from './ipxe-text.ts';

/** Everything a script renderer needs: the config, where we are, what the client said, which files exist. */
export interface ScriptContext {
  config: BootstationConfig;
  /** http://<address>:<port> without a trailing slash. */
  serverUrl: string;
  client: BootClient;
  /** Image id → boot files (kernel, initrds) that are not on disk; absent when the image is complete. */
  missingFiles: ReadonlyMap<string, readonly string[]>;
  /** Image id → kernel path → what its header says; a kernel not in it is started wherever its firmware fits. */
  kernels?: KernelHeaders;
  /** The platform row ProxyDHCP learnt from the client's option 93, for an iPXE that does not report ${buildarch}. */
  dhcpPlatform?: PlatformId;
  /** Image id → the server's ingest of it, shown on an image that is not ready yet; absent: nothing running or failed. */
  ingestStates?: ReadonlyMap<string, MenuIngestState>;
}

/** What the menu says about an image the server is ingesting: its download's percentage, or why it failed (and whether it is tried again). */
export type MenuIngestState = { kind: 'downloading'; percent?: number } | { kind: 'failed'; message: string; retrying?: boolean };

// A failure is shown as its first clause (what failed where; the fix after "; " is for the log and the dashboard),
// cut so the menu line stays readable on an 80-column console.
const MENU_FAILURE_CHARS = 100;

// Labels in the generated scripts. Image labels carry a prefix so that an image id can never
// collide with one of ours (ids are [a-z0-9-], ours contain "bs-").
const MENU = 'bs-menu';
const FAILED = 'bs-failed';
const SHELL = 'bs-shell';
const EXIT = 'bs-exit';
const REBOOT = 'bs-reboot';
const imageLabel = (id: string): string => `bs-image-${id}`;

// iPXE's own ${...} names, written into scripts literally for iPXE to expand.
const CLIENT_QUERY_TEMPLATE = '?mac=${net0/mac}&platform=${platform}&buildarch=${buildarch}';

/**
 * Renders /boot.ipxe: identifies the client, selects its keyboard layout (its own in hosts, else ipxe.keymap),
 * then boots its fixed image or chains the menu. It is rendered per request from the live config, so a layout
 * saved in images.yaml applies at the next boot without rebuilding iPXE; settings live until iPXE exits, so
 * the layout also holds in the menu chained next and in its shell.
 */
export function renderBootScript(context: ScriptContext): string {
  const { client, config, serverUrl } = context;
  const lines = ['#!ipxe', '# bootstation: first script for every iPXE client'];
  if (!client.mac && !client.reported) {
    // A ROM or stock build sent here by ProxyDHCP knows nothing about us: ask it who it is.
    // It comes back with a mac parameter, so this never repeats even if ${net0/mac} expands to nothing.
    lines.push(`chain --autofree ${serverUrl}/boot.ipxe${CLIENT_QUERY_TEMPLATE} || shell`);
    return lines.join('\n') + '\n';
  }
  const host = client.mac === undefined ? undefined : config.hosts.get(client.mac);
  const keymap = host?.keymap ?? config.ipxe.keymap;
  if (keymap) lines.push(`# keyboard layout from ${host?.keymap ? 'hosts' : 'ipxe.keymap'} in images.yaml`, setKeymapCommand(keymap));
  const hostImage = imageById(config, host?.image);
  const menuUrl = `${serverUrl}/menu.ipxe${clientQuery(client)}`;
  const choice = hostImage && bootChoice(context, hostImage);
  if (!hostImage || !choice?.spec || context.missingFiles.has(hostImage.id)) {
    const why = choice && !choice.spec ? `cannot start here (${choice.reason})` : 'its files are missing';
    if (hostImage) lines.push(`echo ${ipxeWords(`${hostImage.label} is assigned to this machine but ${why}; showing the menu.`)}`);
    lines.push(`chain --autofree ${menuUrl} || shell`);
    return lines.join('\n') + '\n';
  }
  lines.push(`# ${client.mac} always boots ${hostImage.id} (hosts in images.yaml)`);
  lines.push(...imageBootLines(hostImage, serverUrl, FAILED, choice.spec));
  lines.push(`:${FAILED}`, 'echo Boot failed; showing the menu.', 'imgfree', 'sleep 3', `chain --autofree ${menuUrl} || shell`);
  return lines.join('\n') + '\n';
}

/**
 * Renders /menu.ipxe: one item per image that fits the client's firmware and that its CPU can start (the first boot
 * spec it can run; the others are named in a `# hidden:` comment), the default with its timeout, and tools.
 */
export function renderMenu(context: ScriptContext): string {
  const { config, client, missingFiles, serverUrl } = context;
  const family = clientPlatform(client, context.dhcpPlatform)?.family ?? firmwareFamily(client);
  const specs = new Map<string, BootSpec>();
  const hidden: string[] = [];
  for (const image of config.images) {
    if (family && image.firmware && !image.firmware.includes(family)) continue;
    const choice = bootChoice(context, image);
    if (choice.spec) specs.set(image.id, choice.spec);
    else if (!choice.byFirmware) hidden.push(`# hidden: ${image.id} (${choice.reason})`);
  }
  const images = config.images.filter((image) => specs.has(image.id));
  const ready = images.filter((image) => !missingFiles.has(image.id));
  const defaultImage = ready.find((image) => image.id === config.menu.defaultImage);
  const timeoutMs = config.menu.timeoutSeconds * 1000;

  const lines = ['#!ipxe', `# bootstation menu${describeClient(client, context.dhcpPlatform)}`, ...hidden];
  // choose --timeout 0 means "wait for a key", so the first display counts down and any later one
  // (after a failed boot) waits: a broken default can never loop.
  lines.push(`set bs-timeout ${defaultImage ? timeoutMs : 0}`);
  if (defaultImage && timeoutMs === 0) lines.push(`goto ${imageLabel(defaultImage.id)}`);
  lines.push(`:${MENU}`, `menu ${ipxeWords(config.menu.title) || 'Network boot'}`);
  if (images.length === 0) lines.push('item --gap -- No images are configured for this machine (see images.yaml).');
  for (const image of images) {
    const missing = missingFiles.get(image.id);
    lines.push(
      missing
        ? `item --gap -- ${ipxeWords(`${image.label} (${notReadyReason(missing, context.ingestStates?.get(image.id))})`)}`
        : `item ${imageLabel(image.id)} ${ipxeWords(image.label)}`,
    );
  }
  lines.push('item --gap --', `item ${SHELL} iPXE shell`, `item ${EXIT} Exit to local disk`, `item ${REBOOT} Reboot`);
  const chooseDefault = defaultImage ? ` --default ${imageLabel(defaultImage.id)}` : '';
  lines.push(`choose --timeout \${bs-timeout}${chooseDefault} bs-choice || goto ${SHELL}`, 'set bs-timeout 0', 'goto ${bs-choice}');

  for (const image of ready) {
    lines.push('', `:${imageLabel(image.id)}`, ...imageBootLines(image, serverUrl, FAILED, specs.get(image.id)!));
  }
  lines.push(
    '',
    `:${FAILED}`,
    'echo Boot failed (the error is shown above).',
    'imgfree',
    'prompt Press any key to return to the menu',
    `goto ${MENU}`,
    '',
    `:${SHELL}`,
    'echo Type "exit" to return to the menu.',
    'shell',
    `goto ${MENU}`,
    '',
    `:${EXIT}`,
    // Returning from iPXE hands control back to the firmware, which tries the next boot device.
    'exit',
    '',
    `:${REBOOT}`,
    'reboot',
  );
  return lines.join('\n') + '\n';
}

// "downloading 42 %" and "failed: <sentence>" while the server ingests the image, else the files it lacks.
function notReadyReason(missing: readonly string[], ingest: MenuIngestState | undefined): string {
  if (ingest?.kind === 'downloading') return ingest.percent === undefined ? 'downloading' : `downloading ${ingest.percent} %`;
  if (ingest?.kind === 'failed') {
    const clause = ingest.message.split('; ')[0]!;
    const message = clause.length > MENU_FAILURE_CHARS ? `${clause.slice(0, MENU_FAILURE_CHARS - 3)}...` : clause;
    return `failed${ingest.retrying ? ', retrying' : ''}: ${message}`;
  }
  return `not ready: missing ${missing.join(', ')}`;
}

/** The base URL of an image's files, as ${base-url} expands to in its args. */
export function imageBaseUrl(serverUrl: string, image: ImageConfig): string {
  return `${serverUrl}/images/${image.id}/`;
}

// kernel + initrd + boot, each failing over to a label. The EFI stub finds initrds by the
// initrd=<name> words on the kernel command line; iPXE names each initrd explicitly so that
// the names match whatever folders the files sit in. On BIOS, iPXE passes all initrds anyway.
function imageBootLines(image: ImageConfig, serverUrl: string, failLabel: string, boot: BootSpec): string[] {
  // A chain image runs another iPXE script (netboot.xyz's menu); --autofree frees it once it returns.
  if (image.chain !== undefined) return [`echo Chaining ${ipxeWords(image.label)}`, `chain --autofree ${ipxeUrl(image.chain)} || goto ${failLabel}`];
  const archive = image.ingest?.keepArchiveAs;
  // The archive as an initrd only exists when ingest kept it.
  const archiveInitrd = archive && boot.archiveInitrdAt ? { file: archive, at: boot.archiveInitrdAt } : undefined;
  const names = initrdNames([...boot.initrds, ...(archiveInitrd ? [archiveInitrd.file] : [])]);
  const args = [...names.map((name) => `initrd=${name}`), ipxeWords(boot.args)].filter(Boolean).join(' ');
  return [
    `echo Booting ${ipxeWords(image.label)}`,
    'imgfree',
    `set base-url ${imageBaseUrl(serverUrl, image)}`,
    // ${iso-url}: the whole archive, for initramfs code that fetches it (Ubuntu's casper url=, Tails).
    ...(archive ? [`set iso-url \${base-url}${urlPath(archive)}`] : []),
    `kernel \${base-url}${urlPath(boot.kernel)}${args ? ` ${args}` : ''} || goto ${failLabel}`,
    ...boot.initrds.map((file, i) => `initrd --name ${names[i]} \${base-url}${urlPath(file)} || goto ${failLabel}`),
    // iPXE wraps an initrd in a cpio header named by the words after its URL (core/cpio.c: cpio_name is the image's command line).
    ...(archiveInitrd
      ? [`initrd --name ${names[names.length - 1]} \${base-url}${urlPath(archiveInitrd.file)} ${ipxeWords(archiveInitrd.at)} || goto ${failLabel}`]
      : []),
    `boot || goto ${failLabel}`,
  ];
}

// The spec this client boots of an image, or why none: its platform row from iPXE (or DHCP), and the kernels' headers.
function bootChoice(context: ScriptContext, image: ImageConfig): BootChoice {
  const platform = clientPlatform(context.client, context.dhcpPlatform);
  return chooseBootSpec(image, { family: firmwareFamily(context.client), ...(platform ? { platform } : {}) }, context.kernels);
}

// Each initrd's file name, made unique (two folders may both hold "initrd.img") and limited to
// characters that are safe as one word on a kernel command line.
function initrdNames(files: readonly string[]): string[] {
  const used = new Set<string>();
  return files.map((file) => {
    const base = (file.split('/').pop() ?? file).replace(/[^A-Za-z0-9._+-]/g, '_').replace(/^-/, '_');
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${n}-${base}`;
    used.add(name);
    return name;
  });
}

function imageById(config: BootstationConfig, id: string | undefined): ImageConfig | undefined {
  return id === undefined ? undefined : config.images.find((image) => image.id === id);
}

function describeClient(client: BootClient, dhcpPlatform: PlatformId | undefined): string {
  const fromDhcp = !client.buildarch && dhcpPlatform ? `(${dhcpPlatform} as ProxyDHCP saw it)` : undefined;
  const parts = [client.mac, client.platform && client.buildarch ? `${client.platform}/${client.buildarch}` : client.platform, fromDhcp];
  const known = parts.filter(Boolean);
  return known.length ? ` for ${known.join(' ')}` : '';
}
