// The commented starter images.yaml the container writes on its first start.
import { RECIPES, type Recipe, type RecipeName } from '../config/recipes.ts';

// An archive name for each recipe the starter only shows as a comment (debian-netboot and memtest86plus are among its
// images), as the distro names its downloads: the example reads it from the data volume, which needs no checksum.
const EXAMPLE_ARCHIVES: Readonly<Record<Exclude<RecipeName, 'debian-netboot' | 'memtest86plus'>, string>> = {
  'sysrcd-legacy': 'systemrescuecd-x86-5.3.2.iso',
  systemrescue: 'systemrescue-12.01-amd64.iso',
  'debian-live': 'debian-live-13.2.0-amd64-standard.iso',
  ubuntu: 'ubuntu-24.04.3-live-server-amd64.iso',
  fedora: 'Fedora-Workstation-Live-43-1.6.x86_64.iso',
  arch: 'archlinux-2025.12.01-x86_64.iso',
  alpine: 'alpine-netboot-3.23.0-x86_64.tar.gz',
  clonezilla: 'clonezilla-live-3.3.0-33-amd64.zip',
  gparted: 'gparted-live-1.7.0-12-amd64.zip',
  proxmox: 'proxmox-ve_9.1-1.iso',
  'kali-live': 'kali-linux-2025.4-live-amd64.iso',
};

/**
 * One commented images: entry per recipe the starter does not use, each valid once uncommented: `version: latest`
 * for a recipe that finds its releases (a release number for one that finds pinned releases only), else the archive
 * read from the data volume.
 */
function renderRecipeExamples(): string {
  return Object.entries(EXAMPLE_ARCHIVES)
    .map(([name, archive]) => {
      const recipe: Recipe = RECIPES[name as RecipeName];
      return [
        `#   - id: ${name}`,
        `#     label: ${recipe.title}`,
        `#     recipe: ${name}`,
        recipe.releases?.kind === 'release-sums'
          ? `#     version: "${recipe.releases.example}"         # a release number (no latest): found, downloaded and verified by the server`
          : recipe.releases
            ? '#     version: latest          # found, downloaded and verified by the server'
            : `#     source: {path: /data/isos/${archive}}   # the archive, put into the data volume`,
      ].join('\n');
    })
    .join('\n');
}
/**
 * The images.yaml a container writes to /config on its first start. Its images need nothing from the user:
 * bootstation finds, downloads and verifies the Debian installer's current release and Debian's memtest86+ package by
 * itself, and netboot.xyz is chained from the internet; every other recipe is shown commented out, so adding a distro
 * is one entry.
 */
export function renderStarterConfig(): string {
  return `# bootstation configuration, written on the container's first start when /config/images.yaml did not exist
# (a checkout's images.yaml is the same file). Edit it and save: the running server reloads it (a broken file is
# rejected with file:line:column in the log, and the previous configuration keeps serving). Images are
# downloaded by the server itself, at start and after each save; the menu and the dashboard show the progress.
# Every key is described in docs/configuration.md, every recipe in docs/recipes.md.

server:
  # interface: eth0        # default: the interface of the default route (env BOOTSTATION_INTERFACE wins)
  # address: 192.168.1.20  # default: that interface's first IPv4 address; advertised to clients
  http_port: 80            # Synology DSM holds port 80 itself: use e.g. 8080 there
  proxy_dhcp: true         # false: TFTP + HTTP only; your router then hands out next-server and the boot file
  # admin_token: <openssl rand -hex 16>   # turns on the dashboard's buttons (ingest, check now, rollback)
menu:
  title: Network boot
  timeout: 10              # seconds before menu.default boots; 0 boots it at once
  # default: debian-netboot
# ipxe: {keymap: de}       # keyboard layout for every machine, applied at the next boot (no rebuild)
# mirrors: {debian: http://mirror.lan/debian/}   # a local mirror, for every image whose recipe finds its releases there
images:
  - id: debian-netboot
    label: Debian installer    # about 50 MB; the installer itself needs internet access
    recipe: debian-netboot     # found on deb.debian.org, its signed Release checked with Debian's keys
    version: latest            # the stable release; or a codename (trixie) or number (13)
  - id: memtest
    label: Memtest86+ memory test   # BIOS and UEFI; a few hundred KB
    recipe: memtest86plus      # Debian's memtest86+ package, checked through Debian's signed archive as above
    version: latest            # the package in Debian stable; or a suite (bookworm, trixie)
  - id: netboot-xyz
    label: netboot.xyz (menu from the internet)
    chain: https://boot.netboot.xyz   # runs netboot.xyz's own iPXE menu over HTTPS
# More images: remove the "# " in front of an entry's lines and save; adding a distro is one entry.
${renderRecipeExamples()}
#   - id: rescue                   # files already on the NAS, served as they are
#     source: {dir: /data/netboot/rescue}
#     boot: {kernel: vmlinuz, initrd: [initrd.img], args: ip=dhcp}
# hosts:                         # per machine: an image it always boots (no menu) and/or its keyboard layout
#   "52:54:00:12:34:56": netboot-xyz
#   "52:54:00:12:34:57": {keymap: fr}
`;
}
