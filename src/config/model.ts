// The validated configuration every decision receives, and the closed word lists its fields take
// (schema.ts checks images.yaml against them; kept here so the model imports nothing).

/** Keyboard layouts that iPXE v2.0.0 ships (src/hci/keymap/keymap_*.c), by the names users write. */
export const IPXE_KEYMAPS = [
  'al', 'by', 'cf', 'cz', 'de', 'dk', 'es', 'et', 'fi', 'fr', 'gr', 'hu', 'il', 'it', 'lt', 'mk', 'mt',
  'nl', 'no', 'no-latin1', 'pl', 'pt', 'ro', 'ru', 'se', 'sg', 'sr-latin', 'ua', 'uk', 'us',
] as const;

/** Firmware families an image can be limited to; iPXE reports them as ${platform} pcbios / efi. */
export const FIRMWARE_FAMILIES = ['bios', 'efi'] as const;

/** Digests a source can be checked against. */
export const CHECKSUM_ALGORITHMS = ['sha256', 'sha512', 'md5'] as const;

/** A firmware family as images.yaml names it. */
export type FirmwareFamily = (typeof FIRMWARE_FAMILIES)[number];

/** CPU architectures a kernel can be built for, as iPXE's ${buildarch} and images.yaml's `arch:` name them. */
export const CPU_ARCHITECTURES = ['i386', 'x86_64', 'arm64'] as const;

/** A CPU architecture: i386, x86_64 or arm64. */
export type CpuArchitecture = (typeof CPU_ARCHITECTURES)[number];

/** What to load and run: paths are relative to the image folder. */
export interface BootSpec {
  kernel: string;
  initrds: readonly string[];
  args: string;
  /**
   * Load the kept archive as one more initrd, placed at this path inside the initramfs (iPXE wraps an
   * initrd in a cpio header named by its argument): Proxmox's installer looks for /proxmox.iso there.
   */
  archiveInitrdAt?: string;
  /** The kernel's CPU as images.yaml's `arch:` says; undefined: read from the kernel file's header. */
  arch?: CpuArchitecture;
  /** Firmware families this spec is for (a list item's `firmware:`, a recipe's per-firmware files); undefined: any. */
  families?: readonly FirmwareFamily[];
}

/** A digest an archive must match, or the URL of a SHA256SUMS-style list that names it. */
export type Checksum =
  | { algorithm: (typeof CHECKSUM_ALGORITHMS)[number]; value: string }
  | { listUrl: string };

/** How `bootstation ingest` fills an image folder from an archive (ISO, zip, tarball) or a single file. */
export interface IngestSpec {
  from: { kind: 'url'; url: string; fetch: 'all' | 'files' } | { kind: 'path'; path: string };
  checksum?: Checksum;
  /** A download without a checksum, accepted because the user said so (warned about at every ingest). */
  insecure: boolean;
  /** Globs of archive paths to extract; the boot files are always included. */
  extract: readonly string[];
  /** The archive itself is kept in the image folder under this name and served as ${iso-url}. */
  keepArchiveAs?: string;
  /** Stable names for versioned files: target path → glob or globs (see Recipe.renames). */
  renames?: Readonly<Record<string, string | readonly string[]>>;
  /** Cap on the bytes of the files extracted (source.max_extracted_size); undefined: DEFAULT_MAX_EXTRACTED_BYTES. */
  maxExtractedBytes?: number;
  recipe?: string;
  version?: string;
  /**
   * Set when the recipe finds the release itself (recipe: and version: without source:): ingest resolves it on the
   * site at `mirror` and replaces `from` (then the site's base URL) with the release's archive.
   */
  release?: ReleaseRequestConfig;
  /** The image's `ingest:` (auto or manual); undefined: the top-level ingest.mode. */
  mode?: IngestMode;
}

/** Which release an image asks its recipe for, and where. */
export interface ReleaseRequestConfig {
  recipe: string;
  /** latest, a codename, a number or an exact version, as the recipe's site names them. */
  version: string;
  /** The site's base URL ending in "/": the image's mirror:, else mirrors: by recipe, by site, else the recipe's own. */
  mirror: string;
  /** The image's keyring: (an OpenPGP keyring file); undefined: the recipe's. */
  keyring?: string;
}

/** Whether `serve` ingests an image by itself (auto) or leaves it to `bootstation ingest` and the dashboard (manual). */
export type IngestMode = 'auto' | 'manual';

/** The top-level `ingest:` section with its defaults applied. */
export interface IngestSettings {
  mode: IngestMode;
  /** Milliseconds between two checks for new releases (check_every). */
  checkEveryMs: number;
  /** Versions kept before the serving one, for rollback (keep_versions). */
  keepVersions: number;
}

/** The defaults of the `ingest:` section: auto, daily checks, two previous versions. */
export const DEFAULT_INGEST_SETTINGS: IngestSettings = { mode: 'auto', checkEveryMs: 24 * 3_600_000, keepVersions: 2 };

/** The config's ingest settings with defaults for the keys it does not set. */
export function ingestSettingsOf(config: Pick<BootstationConfig, 'ingest'>): IngestSettings {
  return { ...DEFAULT_INGEST_SETTINGS, ...config.ingest };
}

/** Whether `serve` ingests the image by itself: it has a url or path source and neither it nor ingest.mode says manual. */
export function ingestsAutomatically(image: ImageConfig, settings: IngestSettings): boolean {
  return image.ingest !== undefined && (image.ingest.mode ?? settings.mode) === 'auto';
}

/** One bootable image from images.yaml. */
export interface ImageConfig extends BootSpec {
  id: string;
  label: string;
  /** Folder whose files are served under /images/<id>/: source.dir, or <data>/images/<id> for ingested images. */
  dir: string;
  /** Undefined: boots on every firmware. */
  firmware?: readonly FirmwareFamily[];
  /**
   * The boot specs after the image's own, in order (images.yaml's list form of `boot:`, a recipe's per-firmware
   * files): a client boots the first spec whose families and architecture it can run.
   */
  moreBoots?: readonly BootSpec[];
  /** Present when the files come from `bootstation ingest` rather than a folder the user fills. */
  ingest?: IngestSpec;
  /**
   * chain: the http(s) URL of another iPXE script the menu item runs (netboot.xyz's menu); such an image has
   * no files and no boot specs (its kernel is empty), and is always ready.
   */
  chain?: string;
}

/** The image's own boot spec and the ones after it, in order: every way the image may be booted (none for a chain image). */
export function bootSpecsOf(image: Pick<ImageConfig, keyof BootSpec | 'moreBoots' | 'chain'>): BootSpec[] {
  if (image.chain !== undefined) return [];
  return [image, ...(image.moreBoots ?? [])];
}

/** Every kernel and initrd any of the image's boot specs names, once each: the files it needs on disk. */
export function bootFilesOf(image: Pick<ImageConfig, keyof BootSpec | 'moreBoots' | 'chain'>): string[] {
  return [...new Set(bootSpecsOf(image).flatMap((spec) => [spec.kernel, ...spec.initrds]))];
}

/** A keyboard layout of iPXE v2.0.0, as images.yaml names it. */
export type KeymapName = (typeof IPXE_KEYMAPS)[number];

/** One machine's entry in hosts; at least one of the two is set. */
export interface HostConfig {
  /** The image it always boots, without the menu; undefined: it gets the menu. */
  image?: string;
  /** Its keyboard layout, instead of ipxe.keymap. */
  keymap?: KeymapName;
}

/** The validated configuration every decision and service receives. */
export interface BootstationConfig {
  server: {
    interface?: string;
    address?: string;
    httpPort: number;
    /** Addresses HTTP listens on besides the serving address and 127.0.0.1, or all of them. */
    httpListen?: readonly string[] | 'all';
    proxyDhcp: boolean;
    /** Bearer token that unlocks the dashboard's mutating endpoints (ingest); undefined keeps them off. */
    adminToken?: string;
    /** How many clients the boot event history keeps (the most recently seen); undefined: 100. */
    historyClients?: number;
    /** The only relay addresses (giaddr) ProxyDHCP answers; undefined: any relay with a unicast address. */
    dhcpRelays?: readonly string[];
  };
  menu: { title: string; defaultImage?: string; timeoutSeconds: number };
  /** keymap: the layout boot.ipxe selects; undefined: the one compiled into the build stays. */
  ipxe: { keymap?: KeymapName };
  /** The keys of the `ingest:` section that images.yaml sets (ingestSettingsOf adds the defaults); absent without one. */
  ingest?: Partial<IngestSettings>;
  images: readonly ImageConfig[];
  /** Lower-case, colon-separated MAC → that machine's image and/or keyboard layout. */
  hosts: ReadonlyMap<string, HostConfig>;
}
