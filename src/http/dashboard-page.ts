// The dashboard's HTML, rendered on the server from plain values. Pure. Every string that came from a
// client, a file name or images.yaml goes through escapeHtml; the script updates the page with textContent.
import type { ImageStatus } from '../ingest/image-status.ts';
import type { IngestJobState } from '../events/ingest-jobs.ts';
import { BOOT_STEPS, type BootStep, type ClientView, type StepView } from '../events/store.ts';
import { formatBytes } from '../text/format.ts';
import { STOCK_IPXE_FIX, STOCK_IPXE_LACKS, type IpxeBinaries } from '../ipxe/binaries.ts';
import { missingFirstStages, type MissingFirstStage } from '../ipxe/missing-first-stages.ts';

/** What the dashboard says about the iPXE binaries being served. */
export interface IpxeDescription {
  kind: 'bootstation build' | 'custom' | 'stock';
  dir: string;
  files: string[];
  /** The platforms whose first stage is missing (their clients get no answer), each with the command that adds it. */
  missing: MissingFirstStage[];
  /** What stock binaries lack against bootstation's build, and how to get that; empty and null otherwise. */
  lacks: string[];
  fix: string | null;
  version: string | null;
  keymap: string | null;
  builtAt: string | null;
}

/** Everything the page shows. */
export interface DashboardPage {
  title: string;
  clients: readonly ClientView[];
  lastEventId: number;
  images: readonly ImageStatus[];
  /** Why the images could not be listed (images.yaml does not validate right now). */
  imagesError?: string;
  ipxe: IpxeDescription;
  ingestEnabled: boolean;
  ingestRunning: string | undefined;
  /** Free bytes on the data folder's disk; null when unknown. */
  diskFree: number | null;
  /** The ingest runner's view of the images it is busy with (queued, running, retrying, failed), by image id. */
  ingestStates: Readonly<Record<string, IngestJobState>>;
}

const STEP_LABELS: Readonly<Record<BootStep, string>> = {
  dhcp: 'DHCP',
  tftp: 'TFTP',
  script: 'script',
  menu: 'menu',
  kernel: 'kernel',
  initrd: 'initrd',
  files: 'files',
};

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** Summarises the binaries being served for the dashboard and /api/ipxe. */
export function describeIpxe(ipxe: IpxeBinaries): IpxeDescription {
  const files = [...ipxe.files.keys()];
  return {
    kind: ipxe.kind === 'own-build' ? 'bootstation build' : ipxe.kind,
    dir: ipxe.dir,
    files,
    missing: missingFirstStages(ipxe),
    lacks: ipxe.kind === 'stock' ? [...STOCK_IPXE_LACKS] : [],
    fix: ipxe.kind === 'stock' ? STOCK_IPXE_FIX : null,
    version: ipxe.kind === 'own-build' ? ipxe.build.version : null,
    keymap: ipxe.kind === 'own-build' ? ipxe.build.keymap : null,
    builtAt: ipxe.kind === 'own-build' ? ipxe.build.builtAt : null,
  };
}

/** "1.5 MiB at 12.0 MiB/s" for a step, or its detail when it moved no bytes. */
export function describeStep(step: StepView): string {
  if (step.bytes === undefined || step.bytes === 0) return step.detail;
  const count = step.count > 1 ? ` (${step.count} files)` : '';
  const rate = step.rate === undefined ? '' : ` at ${formatBytes(step.rate)}/s`;
  return `${formatBytes(step.bytes)}${count}${rate}`;
}

/** The whole page. */
export function renderDashboardPage(page: DashboardPage): string {
  const title = escapeHtml(page.title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · bootstation</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body data-last-event-id="${page.lastEventId}" data-ingest="${page.ingestEnabled ? 'on' : 'off'}">
<header><h1>${title}</h1><span id="live" class="live">connecting…</span></header>
<main>
<section>
<h2>Clients</h2>
<div class="scroll"><table id="clients">
<thead><tr><th>Machine</th><th>Firmware</th><th>IP</th><th>Step</th><th>Timeline</th></tr></thead>
<tbody>
${page.clients.map(renderClientRow).join('\n')}
</tbody>
</table></div>
<p id="no-clients" class="empty"${page.clients.length > 0 ? ' hidden' : ''}>No machine has asked to boot yet.</p>
</section>
<section>
<h2>Images</h2>
<div class="scroll"><table id="images">
<thead><tr><th>Image</th><th>State</th><th>Version</th><th>Verified</th><th>Disk</th><th>Last ingest</th><th></th></tr></thead>
<tbody>
${page.images.map((image) => renderImageRow(image, page)).join('\n')}
</tbody>
</table></div>
<p class="empty">Free on the data folder's disk: <span id="disk-free">${page.diskFree === null ? 'unknown' : formatBytes(page.diskFree)}</span></p>
${page.imagesError === undefined ? '' : `<p class="bad">${escapeHtml(page.imagesError)}</p>`}
${page.ingestEnabled ? '<p class="token"><label>Admin token <input id="token" type="password" autocomplete="current-password"></label></p>' : ''}
</section>
<section>
<h2>iPXE binaries</h2>
${renderIpxe(page.ipxe)}
</section>
</main>
</body>
</html>
`;
}

// A MAC the machine only claimed in boot.ipxe?mac= (DHCP never saw it at that address); the script adds the same.
const UNVERIFIED_MARK = ' <small class="unverified" title="claimed by the machine in boot.ipxe?mac=, not seen by DHCP at this address">unverified</small>';

/** One client's table row; the script renders the same cells from the JSON it streams. */
export function renderClientRow(client: ClientView): string {
  const machine = client.mac ?? client.key.replace(/^ip:/, '');
  const step = client.step === undefined ? '' : `${STEP_LABELS[client.step]}${client.stepOk ? '' : ' failed'}`;
  const timeline = BOOT_STEPS.filter((name) => client.timeline[name] !== undefined)
    .map((name) => {
      const view = client.timeline[name]!;
      return `<li class="${view.ok ? 'ok' : 'bad'}" title="${escapeHtml(view.detail)}"><b>${STEP_LABELS[name]}</b> ${escapeHtml(describeStep(view))}</li>`;
    })
    .join('');
  return `<tr data-key="${escapeHtml(client.key)}"><td class="mac">${escapeHtml(machine)}${client.macVerified === false ? UNVERIFIED_MARK : ''}</td><td>${escapeHtml(client.platform ?? client.firmware ?? client.vendorClass ?? '')}</td><td>${escapeHtml(client.ip ?? '')}</td><td class="step ${client.stepOk ? 'ok' : 'bad'}">${step}</td><td><ol class="timeline">${timeline}</ol></td></tr>`;
}

/**
 * How an image's files were checked, said plainly; the script says the same from /api/images. Files in a source.dir
 * are the user's own and a chain image's script is fetched by iPXE, so bootstation checks neither.
 */
export function describeImageVerification(image: Pick<ImageStatus, 'source' | 'verification'>): string {
  if (image.source === 'dir') return 'your own files (not checked)';
  if (image.source === 'chain') return 'fetched by iPXE at boot (not checked)';
  return image.verification ?? 'not ingested yet';
}

/** The state cell of an image the ingest runner is busy with, as the menu words it. Pure, also in the script. */
export function describeIngestState(state: IngestJobState): string {
  if (state.phase === 'queued') return 'queued';
  if (state.phase === 'running') return state.total ? `downloading ${Math.floor(((state.done ?? 0) * 100) / state.total)} %` : 'downloading';
  if (state.phase === 'retrying') return `retrying (attempt ${state.attempts}): ${state.message}`;
  return `failed: ${state.message}`;
}

/** An image's disk use: every version it keeps (the serving one and those a rollback can return to). Pure, also in the script. */
export function describeDiskUse(image: Pick<ImageStatus, 'diskUsed' | 'size' | 'versions'>): string {
  const bytes = image.diskUsed ?? image.size;
  if (bytes === null) return '';
  const versions = image.versions.length;
  return versions > 1 ? `${formatBytes(bytes)} (${versions} versions)` : formatBytes(bytes);
}

// The admin buttons of an image bootstation ingests; the script posts to /api/images/<id>/<action> with the token.
function renderImageButtons(image: ImageStatus, page: DashboardPage): string {
  if (!page.ingestEnabled || (image.source !== 'url' && image.source !== 'path')) return '';
  const busy = page.ingestRunning === undefined ? '' : ' disabled';
  const id = escapeHtml(image.id);
  const canRollBack = image.versions.some((version) => !version.serving);
  return [
    `<button type="button" data-action="ingest" data-image="${id}"${busy}>${image.lastIngest === null ? 'Ingest' : 'Re-ingest'}</button>`,
    `<button type="button" data-action="check" data-image="${id}"${busy}>Check now</button>`,
    `<button type="button" data-action="rollback" data-image="${id}" data-kept="${canRollBack ? 'yes' : 'no'}"${canRollBack ? busy : ' disabled'}>Rollback</button>`,
  ].join(' ');
}

function renderImageRow(image: ImageStatus, page: DashboardPage): string {
  const last = image.lastIngest === null ? '' : image.lastIngest.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const runner = page.ingestStates[image.id];
  const state = runner
    ? describeIngestState(runner)
    : image.failure
      ? `failed: ${image.failure.message}`
      : image.state === 'missing files'
        ? `missing ${image.missingFiles.join(', ')}`
        : image.state;
  const stateClass = runner && runner.phase !== 'failed' ? 'busy' : image.state.replace(' ', '-');
  const verification = describeImageVerification(image);
  return `<tr data-image="${escapeHtml(image.id)}"><td>${escapeHtml(image.label)}<br><small>${escapeHtml(image.id)}</small></td><td class="state state-${escapeHtml(stateClass)}">${escapeHtml(state)}</td><td>${escapeHtml(image.version ?? '')}</td><td class="verified${verification.includes('NOT') ? ' bad' : ''}">${escapeHtml(verification)}</td><td>${escapeHtml(describeDiskUse(image))}</td><td>${escapeHtml(last)}</td><td class="actions">${renderImageButtons(image, page)}<span class="progress"></span></td></tr>`;
}

function renderIpxe(ipxe: IpxeDescription): string {
  const entry = (key: string, value: string): string => `<dt>${key}</dt><dd>${escapeHtml(value)}</dd>`;
  // One line per platform, named as the platform table names it; BIOS and x64 UEFI (required) in the alarm colour.
  const missing = ipxe.missing.map((row) => `<dd class="missing${row.required ? ' bad' : ''}">${escapeHtml(`${row.displayName}: ${row.file} — ${row.fix}`)}</dd>`);
  const entries = [
    entry('Kind', ipxe.kind === 'stock' ? "stock (Debian's ipxe package, 2019)" : ipxe.kind),
    entry('Folder', ipxe.dir),
    entry('Binaries', ipxe.files.join(', ') || 'none'),
    missing.length > 0 ? `<dt>Missing</dt>${missing.join('')}` : entry('Missing', 'none'),
  ];
  if (ipxe.lacks.length > 0) entries.push(entry('Lacks', ipxe.lacks.join('; ')));
  if (ipxe.fix !== null) entries.push(entry('Fix', ipxe.fix));
  if (ipxe.version !== null) entries.push(entry('Version', ipxe.version));
  if (ipxe.keymap !== null) entries.push(entry('Keymap', ipxe.keymap));
  if (ipxe.builtAt !== null) entries.push(entry('Built', ipxe.builtAt));
  return `<dl id="ipxe">${entries.join('')}</dl>`;
}
