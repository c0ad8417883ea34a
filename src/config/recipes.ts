// The built-in recipes (images.yaml's `recipe:`): pure data, what to extract from each distro's archive and how to boot it.
import type { BootSpec } from './model.ts';

/** A built-in recipe: what to extract from a distro's archive and how to boot it. Pure data. */
export interface Recipe {
  /** What the recipe is for: its row in docs/recipes.md, which tools/render-recipes-doc.ts renders from this file. */
  title: string;
  /** Archive paths to extract (globs: `*` within a segment, `**` across segments). */
  extract: readonly string[];
  /**
   * Stable names for files whose archive name carries a version, or that other archives of the same release name
   * otherwise: target path → glob, or a list of globs (one per archive layout). Ingest installs the target itself when
   * the archive has it, else the one file matching one of the globs, under the target's name.
   */
  renames?: Readonly<Record<string, string | readonly string[]>>;
  /**
   * How to boot it: one spec, or one per firmware (a spec's `families`), in the order a client tries them, as in
   * images.yaml's list form; an image that names its own kernel takes only the first spec's initrds and args.
   */
  boot: readonly BootSpec[];
  /** Keep the whole archive in the image folder (served as ${iso-url}). */
  keepArchive?: boolean;
  /** What users need to know: RAM, firmware, where to get the archive (docs/recipes.md, under the recipe's name). */
  notes: string;
  /** Where the distro publishes its releases, so an image needs only `version:` (images.yaml's `source:` still overrides it). */
  releases?: ReleaseDiscovery;
}

/**
 * How a recipe finds and verifies a release below its download site (`mirror`, the site's base URL ending in "/",
 * which images.yaml's `mirrors:` and `mirror:` replace). Pure data; src/ingest/releases reads it.
 */
export type ReleaseDiscovery =
  /**
   * A Debian archive: dists/<suite>/InRelease (or Release + Release.gpg), signed with keys of `keyring`, lists the
   * SHA256 of `sums` (below dists/<codename>/), and that SHA256SUMS the digest of `archive` (below the same folder).
   */
  | { kind: 'debian-dists'; site: string; mirror: string; keyring: string; sums: string; archive: string }
  /** Alpine: <branch>/releases/<arch>/latest-releases.yaml names the file of `flavor` with its sha256. */
  | { kind: 'alpine-yaml'; site: string; mirror: string; arch: string; flavor: string }
  /**
   * A package of a Debian archive: dists/<suite>/InRelease, signed as for debian-dists, lists
   * <component>/binary-<arch>/Packages.gz with its SHA256, and that index names the .deb of `package` (its Filename
   * below the mirror, SHA256 and Version). The .deb's data.tar holds the files to extract.
   */
  | { kind: 'debian-package'; site: string; mirror: string; keyring: string; component: string; arch: string; package: string }
  /** Arch Linux: iso/<version>/sha256sums.txt (iso/latest/ for the newest) names archlinux-<version>-x86_64.iso. */
  | { kind: 'arch-iso'; site: string; mirror: string }
  /**
   * Fedora: `index` (releases.json on the project's site; on a mirror, the same path below it) lists each image's
   * version, arch, variant, subvariant, link and sha256; the live ISO's link lies below `mirror`.
   */
  | { kind: 'fedora-json'; site: string; mirror: string; index: string; arch: string; variant: string; subvariant: string }
  /**
   * One checksum file per release and no list of releases (pinned versions only): `index` ({version} filled in; on a
   * mirror, its path below the mirror) gives the sha256 of `archive` (below `mirror`). `example` is a release number.
   */
  | { kind: 'release-sums'; site: string; mirror: string; index: string; archive: string; example: string }
  /**
   * A DRBL project's stable folder (GParted Live, Clonezilla live): `index`, a CHECKSUMS.TXT (on a mirror, its path
   * below the mirror), names the current stable `archive` ({version} in its file name) under SHA256SUMS; the archive
   * is below `mirror`. Only that release is found. `example` is a release number.
   */
  | { kind: 'drbl-stable'; site: string; mirror: string; index: string; archive: string; example: string };

/** The sites a release can come from (images.yaml's `mirrors:` keys besides recipe names). */
export function releaseSites(): string[] {
  return [...new Set(Object.values(RECIPES as Record<string, Recipe>).flatMap((recipe) => (recipe.releases ? [recipe.releases.site] : [])))];
}

/** The recipes that find releases by themselves (`version:` without `source:`). */
export function recipesWithReleases(): string[] {
  return Object.entries(RECIPES as Record<string, Recipe>).filter(([, recipe]) => recipe.releases !== undefined).map(([name]) => name);
}

// The MAC address of the NIC iPXE booted from, in the pxelinux form "01-aa-bb-cc-dd-ee-ff" that
// live-boot (9990-networking.sh Device_from_bootif), archiso (hooks/archiso_pxe_common), dracut
// (dracut.cmdline BOOTIF=), casper/initramfs-tools and Alpine's init (ip_choose_if) all read to pick
// that NIC for their own DHCP on a machine with several. iPXE expands ${netX/mac:hexhyp} to
// "aa-bb-cc-dd-ee-ff" (netX: the last interface opened).
const BOOTIF = 'BOOTIF=01-${netX/mac:hexhyp}';

// live-boot (Debian live-boot(7), lib/live/boot/9990-mount-http.sh): boot=live runs live-boot,
// fetch=<url>.squashfs makes its initramfs bring up the network itself (DHCP) and wget the root image
// into a ramfs; components runs live-config (user, locale, hostname) once the root is up. Checked in
// `bootstation lab` (SeaBIOS and OVMF) with Debian 12's live-boot initramfs: BOOTIF picked the NIC,
// the squashfs came from ${base-url} and the overlay root's init ran.
const LIVE_BOOT_FETCH = 'boot=live components fetch=${base-url}live/filesystem.squashfs';

// Debian's archive, for every recipe found in it: its release files are signed with the keys of the
// debian-archive-keyring package (Debian wiki "DebianRepository/Format", "SecureApt").
const DEBIAN_ARCHIVE = { site: 'debian', mirror: 'https://deb.debian.org/debian/', keyring: '/usr/share/keyrings/debian-archive-keyring.gpg' } as const;

/** The built-in recipes by name, as images.yaml's `recipe:` names them. */
export const RECIPES = {
  'sysrcd-legacy': {
    title: 'SystemRescueCd 5.x and older (the netboot= layout)',
    extract: ['isolinux/rescue64', 'isolinux/initram.igz', 'sysrcd.dat', 'sysrcd.md5'],
    // dodhcp and netboot= are SystemRescueCd 5.x's own initramfs options (its "PXE network booting"
    // manual); the initramfs downloads sysrcd.dat into RAM and checks it against sysrcd.md5.
    boot: [{ kernel: 'isolinux/rescue64', initrds: ['isolinux/initram.igz'], args: 'dodhcp netboot=${base-url}sysrcd.dat' }],
    notes:
      'Archive: systemrescuecd-x86-<version>.iso (5.x and older). The root image sysrcd.dat (about 400 MB) is fetched over HTTP into RAM: 1 GB of RAM or more.',
  },

  systemrescue: {
    title: 'SystemRescue 6 and later (archiso)',
    // The archiso folder layout stays as on the ISO: archiso_pxe_http fetches
    // <archiso_http_srv><archisobasedir>/x86_64/airootfs.sfs (and airootfs.sha512 with checksum).
    // airootfs.* also takes an airootfs.erofs, which the same hook falls back to.
    extract: [
      'sysresccd/boot/intel_ucode.img',
      'sysresccd/boot/amd_ucode.img',
      'sysresccd/boot/x86_64/vmlinuz',
      'sysresccd/boot/x86_64/sysresccd.img',
      'sysresccd/x86_64/airootfs.*',
    ],
    boot: [{
      kernel: 'sysresccd/boot/x86_64/vmlinuz',
      // Microcode first: the kernel only applies an early-microcode cpio at the start of the initrds.
      initrds: ['sysresccd/boot/intel_ucode.img', 'sysresccd/boot/amd_ucode.img', 'sysresccd/boot/x86_64/sysresccd.img'],
      // SystemRescue manual "PXE network booting": ip=dhcp brings the network up in the initramfs
      // (archiso_pxe_common), archiso_http_srv= (ending in "/") switches to the HTTP mount handler,
      // checksum (mkinitcpio reads a bare word as checksum=y) verifies airootfs.sfs against airootfs.sha512.
      args: `archisobasedir=sysresccd archiso_http_srv=\${base-url} ip=dhcp checksum ${BOOTIF}`,
    }],
    notes:
      'Archive: systemrescue-<version>-amd64.iso from system-rescue.org. airootfs.sfs (about 0.8-1 GB) is downloaded into a tmpfs of 75% of RAM: 2 GB of RAM or more. BIOS and UEFI (Secure Boot off, as for anything iPXE starts). version: takes a release number only (12.01), not latest: SystemRescue publishes no list of its releases, only a checksum file per release.',
    // system-rescue.org/Download links each ISO as fastly-cdn.system-rescue.org/releases/<version>/
    // systemrescue-<version>-amd64.iso and its checksum as www.system-rescue.org/releases/<version>/
    // systemrescue-<version>-amd64.iso.sha256 (sha256sum output; also .sha512 and an .asc signed with SystemRescue's
    // key, of which bootstation has no trusted copy). The newest release is only named in that HTML page, and a project issue
    // (systemrescue-sources#297) asks for a list of checksums that does not exist: pinned versions only.
    releases: {
      kind: 'release-sums',
      site: 'systemrescue',
      mirror: 'https://fastly-cdn.system-rescue.org/',
      index: 'https://www.system-rescue.org/releases/{version}/systemrescue-{version}-amd64.iso.sha256',
      archive: 'releases/{version}/systemrescue-{version}-amd64.iso',
      example: '12.01',
    },
  },

  'debian-netboot': {
    title: 'Debian installer (netboot)',
    // netboot.tar.gz holds ./debian-installer/amd64/{linux,initrd.gz} (also pxelinux and GRUB files we
    // do not need); the same paths are in the gtk (graphical) netboot.tar.gz.
    extract: ['debian-installer/amd64/linux', 'debian-installer/amd64/initrd.gz'],
    // The installer is entirely in initrd.gz and needs no argument to start; it fetches its other
    // components and the packages from a Debian mirror.
    boot: [{ kernel: 'debian-installer/amd64/linux', initrds: ['debian-installer/amd64/initrd.gz'], args: '' }],
    notes:
      'Archive: netboot.tar.gz from deb.debian.org/debian/dists/<suite>/main/installer-amd64/current/images/netboot/ (or gtk/netboot.tar.gz for the graphical installer). The installer downloads its components and packages from a Debian mirror: the client needs internet access. About 1 GB of RAM. BIOS and UEFI.',
    // Debian wiki "DebianRepository/Format" (InRelease, Release and its SHA256 field) and the installer's own
    // verification chain (Debian Installer manual, "Verifying the files"): dists/<suite>/InRelease is signed with
    // the archive keys of the debian-archive-keyring package, lists main/installer-<arch>/current/images/SHA256SUMS
    // with its SHA256 and size, and that file lists ./netboot/netboot.tar.gz.
    releases: {
      kind: 'debian-dists',
      ...DEBIAN_ARCHIVE,
      sums: 'main/installer-amd64/current/images/SHA256SUMS',
      archive: 'main/installer-amd64/current/images/netboot/netboot.tar.gz',
    },
  },

  'debian-live': {
    title: 'Debian Live (live-boot)',
    extract: ['live/filesystem.squashfs'],
    // Debian's live ISOs name the kernel and initrd after the kernel version
    // (live/vmlinuz-6.1.0-18-amd64, live/initrd.img-6.1.0-18-amd64); some builds add unversioned copies.
    renames: { 'live/vmlinuz': 'live/vmlinuz-*', 'live/initrd.img': 'live/initrd.img-*' },
    boot: [{ kernel: 'live/vmlinuz', initrds: ['live/initrd.img'], args: `${LIVE_BOOT_FETCH} ${BOOTIF}` }],
    notes:
      'Archive: debian-live-<version>-amd64-<desktop>.iso from cdimage.debian.org/debian-cd/current-live/. live/filesystem.squashfs (about 1 GB for standard, 3 GB for GNOME or KDE) is downloaded into RAM: RAM of the squashfs size plus 1-2 GB. BIOS and UEFI.',
  },

  ubuntu: {
    title: 'Ubuntu desktop or live server (casper, whole ISO)',
    // casper mounts the whole ISO (the desktop squashfs is layered: minimal, standard, live), so the
    // archive is kept and served as ${iso-url}.
    extract: ['casper/vmlinuz', 'casper/initrd'],
    keepArchive: true,
    boot: [{
      kernel: 'casper/vmlinuz',
      initrds: ['casper/initrd'],
      // Ubuntu Server docs "Netboot the server installer" and casper(7): ip=dhcp is required for casper
      // to bring up the network; netboot=url with url= names the ISO that casper downloads into RAM and
      // loop-mounts (casper 1.445+, Ubuntu 20.04 and later); boot=casper picks casper's initramfs
      // scripts (already the ISO's default, said for clarity as netboot.xyz does). cloud-init reads url=
      // as a legacy alias of cloud-config-url= (it takes the first of cloud-config-url, url:
      // cmd/main.py parse_cmdline_url) and would download the ISO a second time as its configuration;
      // naming /dev/null stops that.
      args: `boot=casper ip=dhcp netboot=url url=\${iso-url} cloud-config-url=/dev/null ${BOOTIF}`,
    }],
    notes:
      'Archive: ubuntu-<version>-desktop-amd64.iso or ubuntu-<version>-live-server-amd64.iso (20.04 or later) from releases.ubuntu.com. The whole ISO is downloaded into RAM: RAM of the ISO size plus 1-2 GB (about 4 GB for the server ISO, 8 GB for the desktop ISO). BIOS and UEFI.',
  },

  fedora: {
    title: 'Fedora Live (dracut livenet)',
    extract: ['images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img', 'LiveOS/squashfs.img'],
    // Lorax-built live ISOs (Fedora 41 and older) have images/pxeboot/{vmlinuz,initrd.img}; the
    // kiwi-built ones (Fedora 42 and later) boot/x86_64/loader/{linux,initrd}. Both keep LiveOS/squashfs.img.
    renames: { 'images/pxeboot/vmlinuz': 'boot/x86_64/loader/linux', 'images/pxeboot/initrd.img': 'boot/x86_64/loader/initrd' },
    boot: [{
      kernel: 'images/pxeboot/vmlinuz',
      initrds: ['images/pxeboot/initrd.img'],
      // dracut.cmdline(7): root=live:<url> makes the livenet module download the image (into RAM)
      // and hand it to dmsquash-live; rd.live.image selects the live root; ip=dhcp brings up the
      // network in the initramfs. Fedora's live initrds include livenet (dracut-live; kiwi's
      // flags="dmsquash" adds dmsquash-live and livenet). Since Fedora 35 squashfs.img holds the root
      // itself, which dmsquash-live can only run writable under OverlayFS: a systemd initramfs infers
      // that, dracut's shell init needs rd.live.overlay.overlayfs=1 said (seen with Debian's dracut 059
      // in the lab, where the root was fetched and then not mounted without it).
      args: `root=live:\${base-url}LiveOS/squashfs.img rd.live.image rd.live.overlay.overlayfs=1 ip=dhcp ${BOOTIF}`,
    }],
    notes:
      'Archive: Fedora-Workstation-Live-<version>.x86_64.iso (or a spin) from fedoraproject.org. LiveOS/squashfs.img (about 2-3 GB) is downloaded into RAM: 4 GB of RAM or more. BIOS and UEFI.',
    // fedoraproject.org/releases.json, the index Fedora Media Writer reads (its CRYPTOGRAPHY.md: each image's SHA256
    // is in releases.json, served over HTTPS): a JSON list of images with version ("43", "44 Beta"), arch, variant,
    // subvariant, link (below download.fedoraproject.org, which redirects to a mirror) and sha256. It lists the
    // supported releases only. The CHECKSUM files beside the ISOs are OpenPGP-signed with Fedora's keys, of which
    // bootstation has no trusted copy: the checksum of the index, fetched over HTTPS, is what is checked.
    releases: {
      kind: 'fedora-json',
      site: 'fedora',
      mirror: 'https://download.fedoraproject.org/',
      index: 'https://fedoraproject.org/releases.json',
      arch: 'x86_64',
      variant: 'Workstation',
      subvariant: 'Workstation',
    },
  },

  arch: {
    title: 'Arch Linux install medium (archiso)',
    // archiso_pxe_http fetches <archiso_http_srv>arch/x86_64/airootfs.sfs (or .erofs) and airootfs.sha512.
    extract: [
      'arch/boot/intel-ucode.img',
      'arch/boot/amd-ucode.img',
      'arch/boot/x86_64/vmlinuz-linux',
      'arch/boot/x86_64/initramfs-linux.img',
      'arch/x86_64/airootfs.*',
    ],
    boot: [{
      kernel: 'arch/boot/x86_64/vmlinuz-linux',
      initrds: ['arch/boot/intel-ucode.img', 'arch/boot/amd-ucode.img', 'arch/boot/x86_64/initramfs-linux.img'],
      // mkinitcpio-archiso's hooks/archiso_pxe_http: archiso_http_srv= (ending in "/") with ip= selects
      // the HTTP mount handler (always copy-to-RAM); checksum (a bare word is checksum=y to mkinitcpio,
      // as in archiso's own PXE menu entries) verifies airootfs against airootfs.sha512. Arch's own iPXE
      // script uses cms_verify=y (airootfs.sfs.cms.sig) instead; here ingest has already verified the ISO.
      args: `archisobasedir=arch archiso_http_srv=\${base-url} ip=dhcp checksum ${BOOTIF}`,
    }],
    notes:
      'Archive: archlinux-<yyyy.mm.dd>-x86_64.iso from archlinux.org/download. airootfs.sfs (about 0.9 GB) is downloaded into a tmpfs of 75% of RAM: 2 GB of RAM or more. BIOS and UEFI.',
    // archlinux.org/download: every mirror has iso/<yyyy.mm.dd>/ with archlinux-<yyyy.mm.dd>-x86_64.iso and
    // sha256sums.txt (sha256sum output), and iso/latest/ holding the newest release. The ISO's .sig is signed by a
    // release engineer's key from archlinux-keyring, which is not packaged for Debian: the checksum is what is checked.
    releases: { kind: 'arch-iso', site: 'archlinux', mirror: 'https://geo.mirror.pkgbuild.com/' },
  },

  alpine: {
    title: 'Alpine Linux (netboot tarball, lts kernel)',
    // alpine-netboot-<version>-x86_64.tar.gz holds boot/{vmlinuz,initramfs,modloop,config,System.map}-<flavor>.
    extract: ['boot/vmlinuz-lts', 'boot/initramfs-lts', 'boot/modloop-lts'],
    boot: [{
      kernel: 'boot/vmlinuz-lts',
      initrds: ['boot/initramfs-lts'],
      // Alpine's initramfs-init (the netboot.xyz and Alpine wiki PXE examples use the same options):
      // ip=dhcp configures the NIC; modloop=<url> is the kernel-modules squashfs it downloads, which
      // needs modules=loop,squashfs to mount; alpine_repo= is where it installs alpine-base from. The
      // release in alpine_repo must match the tarball: latest-stable fits the newest release; for an
      // older one, give the entry its own boot.args with /alpine/v3.NN/main. Plain http is enough as
      // apk checks every package's signature.
      args: `ip=dhcp modules=loop,squashfs modloop=\${base-url}boot/modloop-lts alpine_repo=http://dl-cdn.alpinelinux.org/alpine/latest-stable/main ${BOOTIF}`,
    }],
    notes:
      'Archive: alpine-netboot-<version>-x86_64.tar.gz from alpinelinux.org/downloads (the Netboot tarball). Runs from RAM: 512 MB or more. Installs its base system from the Alpine repository named in alpine_repo (internet access needed; latest-stable by default, see the recipe for older releases). BIOS and UEFI.',
    // alpinelinux.org/downloads reads <mirror>/<branch>/releases/<arch>/latest-releases.yaml (latest-stable is the
    // newest branch, v3.NN an older one): a YAML list of releases with flavor, version, file, sha256 and branch.
    // Its .asc signatures use Alpine's release key, which Debian does not package: the checksum is what is checked.
    releases: { kind: 'alpine-yaml', site: 'alpine', mirror: 'https://dl-cdn.alpinelinux.org/alpine/', arch: 'x86_64', flavor: 'alpine-netboot' },
  },

  clonezilla: {
    title: 'Clonezilla live (live-boot)',
    // The zip (and the ISO) hold live/vmlinuz, live/initrd.img and live/filesystem.squashfs unversioned.
    extract: ['live/vmlinuz', 'live/initrd.img', 'live/filesystem.squashfs'],
    boot: [{
      kernel: 'live/vmlinuz',
      initrds: ['live/initrd.img'],
      // Clonezilla's "Clonezilla live on PXE server" page: live-boot's fetch= plus its own options:
      // union=overlay, username=user for live-config, noswap (never touch the disks' swap), locales=
      // and keyboard-layouts= empty so it asks, ocs_live_run= the Clonezilla menu to start.
      args: `${LIVE_BOOT_FETCH} union=overlay username=user noswap edd=on nomodeset locales= keyboard-layouts= ocs_live_run="ocs-live-general" ocs_live_extra_param="" ocs_live_batch="no" net.ifnames=0 nosplash noprompt ${BOOTIF}`,
    }],
    notes:
      'Archive: clonezilla-live-<version>-amd64.zip (or .iso) from clonezilla.org/downloads. filesystem.squashfs (about 400 MB) is downloaded into RAM: 1 GB of RAM or more. BIOS and UEFI. version: finds the current stable release only (latest, or its number): the checksum list covers that one.',
    // clonezilla.org/downloads/stable/data/CHECKSUMS.TXT lists the current stable release's files under "### MD5SUMS:",
    // "### SHA1SUMS:", "### SHA256SUMS:" ... headings (the DRBL projects' layout, as GParted's); the files are on
    // SourceForge as clonezilla_live_stable/<version>/clonezilla-live-<version>-amd64.zip. Its .gpg signature
    // (clonezilla.org/gpg-verify.php) uses the DRBL project's key, of which bootstation has no trusted copy: the
    // checksum, fetched over HTTPS, is what is checked.
    releases: {
      kind: 'drbl-stable',
      site: 'clonezilla',
      mirror: 'https://downloads.sourceforge.net/project/clonezilla/',
      index: 'https://clonezilla.org/downloads/stable/data/CHECKSUMS.TXT',
      archive: 'clonezilla_live_stable/{version}/clonezilla-live-{version}-amd64.zip',
      example: '3.3.0-33',
    },
  },

  gparted: {
    title: 'GParted Live (live-boot)',
    // Same layout as Clonezilla (both are built by the DRBL project's live tooling).
    extract: ['live/vmlinuz', 'live/initrd.img', 'live/filesystem.squashfs'],
    boot: [{
      kernel: 'live/vmlinuz',
      initrds: ['live/initrd.img'],
      // GParted's "GParted Live on PXE server" page: fetch= with union=overlay, username=user, noswap.
      args: `${LIVE_BOOT_FETCH} union=overlay username=user noswap ${BOOTIF}`,
    }],
    notes:
      'Archive: gparted-live-<version>-amd64.zip (or .iso) from gparted.org/download.php. filesystem.squashfs (about 300-500 MB) is downloaded into RAM: 1 GB of RAM or more. BIOS and UEFI. version: finds the current stable release only (latest, or its number): the checksum list covers that one.',
    // gparted.org/download.php links "Checksums" to the stable folder's CHECKSUMS.TXT (today
    // gparted.org/gparted-live/stable/CHECKSUMS.TXT; older pages named free.nchc.org.tw/gparted-live/stable/): the
    // current stable release's files under "### MD5SUMS:", "### SHA256SUMS:" ... headings. It links the files to
    // SourceForge's gparted-live-stable/<version>/ folders.
    releases: {
      kind: 'drbl-stable',
      site: 'gparted',
      mirror: 'https://downloads.sourceforge.net/project/gparted/',
      index: 'https://gparted.org/gparted-live/stable/CHECKSUMS.TXT',
      archive: 'gparted-live-stable/{version}/gparted-live-{version}-amd64.zip',
      example: '1.7.0-12',
    },
  },

  memtest86plus: {
    title: 'Memtest86+ 6.x/7.x (BIOS .bin, UEFI .efi)',
    // The binaries zip (mt86plus_<version>.binaries.zip) holds memtest64.bin and memtest64.efi (and the
    // 32-bit ones). The ISO (mt86plus_<version>_64.iso) holds the .efi as EFI/BOOT/bootx64.efi and the
    // .bin only as boot/floppy.img: memtest.bin zero-padded to a 1.44 MB floppy (checked on the ISO of
    // Debian's memtest86+ 6.10 package). Debian's package (memtest86+_<version>_amd64.deb) holds
    // ./boot/memtest86+x64.bin and ./boot/memtest86+x64.efi (dpkg-deb -c of 6.10-4, bookworm; and 7.x, trixie).
    // The renames take any of the three.
    extract: ['memtest64.bin', 'memtest64.efi'],
    renames: {
      'memtest64.bin': ['boot/floppy.img', 'boot/memtest86+x64.bin'],
      'memtest64.efi': ['EFI/BOOT/bootx64.efi', 'boot/memtest86+x64.efi'],
    },
    // Memtest86+ README: memtest.bin boots through the Linux 16-bit boot protocol (what iPXE's bzImage
    // loader uses on BIOS); memtest.efi is a UEFI application (iPXE starts it with LoadImage/StartImage).
    // Neither takes an initrd; no option is needed. Checked with Debian's memtest86+ 6.10 and iPXE
    // under QEMU: SeaBIOS runs memtest64.bin and the padded floppy.img alike, OVMF runs the .efi.
    // On UEFI it draws on the GOP framebuffer and stops with "efi_setup() failed" without one.
    boot: [
      { kernel: 'memtest64.bin', initrds: [], args: '', families: ['bios'] },
      { kernel: 'memtest64.efi', initrds: [], args: '', families: ['efi'] },
    ],
    notes:
      'Archive: Debian\'s memtest86+ package, found by version: latest (stable) or a Debian suite (bookworm, trixie) and checked through Debian\'s signed archive; or, as a source:, mt86plus_<version>.binaries.zip or mt86plus_<version>_64.iso from memtest.org (the ISO\'s BIOS file is the padded floppy image), or a memtest86+_<version>_amd64.deb. Needs a few MB of RAM and tests the rest. BIOS and 64-bit UEFI (Secure Boot off: the .efi is unsigned); on UEFI it needs a graphics adapter (it draws on the UEFI framebuffer).',
    // memtest.org publishes no checksum list a download could be checked against; Debian's package is checked through
    // the archive's chain (Debian wiki "DebianRepository/Format"): the InRelease, signed by a key of
    // debian-archive-keyring, lists main/binary-amd64/Packages.gz with its SHA256 and size, and its memtest86+
    // paragraph gives Filename (pool/main/m/memtest86+/memtest86+_<version>_amd64.deb), Size and SHA256.
    releases: {
      kind: 'debian-package',
      ...DEBIAN_ARCHIVE,
      component: 'main',
      arch: 'amd64',
      package: 'memtest86+',
    },
  },

  proxmox: {
    title: 'Proxmox VE installer (whole ISO inside the initramfs)',
    // The installer's init looks for /proxmox.iso inside the initramfs (it has no network code of its
    // own to fetch it), so the ISO is kept and loaded as a last initrd that iPXE wraps in a cpio header
    // named /proxmox.iso (iPXE core/cpio.c: the cpio name is the initrd's argument).
    extract: ['boot/linux26', 'boot/initrd.img'],
    keepArchive: true,
    boot: [{
      kernel: 'boot/linux26',
      initrds: ['boot/initrd.img'],
      archiveInitrdAt: '/proxmox.iso',
      // ramdisk_size: the ISO (1-1.5 GB) unpacked into the initial ramdisk must fit (in KiB, 16 GiB
      // upper bound, as the ISO's own grub.cfg sets it); splash=silent as the ISO's menu boots.
      args: 'ramdisk_size=16777216 rw quiet splash=silent',
    }],
    notes:
      'Archive: proxmox-ve_<version>.iso from proxmox.com/downloads. The whole ISO is loaded into RAM as part of the initramfs: 4 GB of RAM or more. BIOS and UEFI. Not booted here from a real ISO.',
  },
  'kali-live': {
    title: 'Kali Linux Live (live-boot)',
    extract: ['live/filesystem.squashfs'],
    // Kali's live ISO has unversioned live/vmlinuz and live/initrd.img; the renames only take a
    // versioned name when a build lacks them.
    renames: { 'live/vmlinuz': 'live/vmlinuz-*', 'live/initrd.img': 'live/initrd.img-*' },
    boot: [{
      kernel: 'live/vmlinuz',
      initrds: ['live/initrd.img'],
      // Kali's own ISO menu: live-boot with components, username=kali and hostname=kali for live-config
      // (the live user kali/kali).
      args: `${LIVE_BOOT_FETCH} username=kali hostname=kali ${BOOTIF}`,
    }],
    notes:
      'Archive: kali-linux-<version>-live-amd64.iso from kali.org/get-kali (the Live image, not the installer). filesystem.squashfs (about 3-4 GB) is downloaded into RAM: 8 GB of RAM or more. BIOS and UEFI.',
  },
} as const satisfies Record<string, Recipe>;

/** A recipe's name. */
export type RecipeName = keyof typeof RECIPES;

/** Recipe names, for the schema and error messages. */
export const RECIPE_NAMES = Object.keys(RECIPES) as RecipeName[];
