#!/usr/bin/env bash
# Builds bootstation's iPXE binaries: an iPXE source tree (folder or tarball) plus our config/local
# overlay and embedded script, one make run per target, outputs copied into --out.
# It is what `bootstation ipxe build --local` runs on the host and what the Docker build stage runs, and it
# owns the rule a release tarball is checked by (--pin): both paths verify the same way.
set -euo pipefail

usage() {
  cat >&2 <<'USAGE'
Usage: scripts/build-ipxe.sh --target DEF... [--targets LIST] --source DIR|TARBALL --keymap NAME --overlay DIR
                             --embed FILE --out DIR [--pin FILE] [--record FILE] [--reuse FILE] [--jobs N]
       scripts/build-ipxe.sh --target DEF... [--targets LIST] --packages
  --source   iPXE source: the folder holding src/Makefile, or a release tarball (plain tar, gzip or xz)
  --pin      a pin file (bootstation's ipxe-src/pin.json): a tarball must be that release, its decompressed
             tar stream with the pinned "tar_sha256" and its pax header with the pinned "commit"; checked
             before anything is unpacked. A folder is built as it is.
  --keymap   keyboard layout as iPXE names it (de, fr, no-latin1, ...); must exist in src/hci/keymap/
  --target   one build target, NAME:CPU:GOAL=FILE[,GOAL=FILE...]: the make goals of iPXE's src/Makefile built
             together, the names their outputs are copied to, and the CPU (i386, x86_64, arm64) that picks the
             compiler; repeat it for each target. The callers pass the rows of bootstation's platform table
             (src/boot/platform.ts, through src/ipxe/targets.ts), which is their one owner.
  --targets  comma-separated names of --target definitions to build (default: all of them)
  --overlay  folder with config/local/{console,general,branding}.h (bootstation's ipxe-src/)
  --embed    iPXE script compiled in with EMBED=
  --out      folder the binaries are copied into
  --record   write what was built: "source VERSION COMMIT IDENTITY" and "output TARGET FILE SHA256 INPUTS built|reused" lines (tab-separated)
  --reuse    a record of an earlier build: a target whose inputs and output file are unchanged is not rebuilt
  --jobs     make -j (default: the number of CPUs)
  --packages print the Debian packages the build of these targets needs on this machine, and exit
USAGE
  exit 2
}

die() {
  printf 'build-ipxe: %s\n' "$*" >&2
  exit 1
}

source_arg='' keymap='' targets='' overlay='' embed='' out='' record='' reuse='' pin='' packages_only=''
jobs="$(nproc 2>/dev/null || echo 2)"
declare -A target_cpu=() target_pairs=()
defined_targets=()
# A --target definition: NAME:CPU:GOAL=FILE[,GOAL=FILE...], with names and paths iPXE's Makefile uses.
define_target() {
  local pair='[A-Za-z0-9_./-]+=[A-Za-z0-9_.-]+'
  [[ $1 =~ ^([a-z0-9]+):(i386|x86_64|arm64):($pair(,$pair)*)$ ]] ||
    die "--target \"$1\" is not NAME:CPU:GOAL=FILE[,GOAL=FILE...] with CPU i386, x86_64 or arm64"
  target_cpu[${BASH_REMATCH[1]}]="${BASH_REMATCH[2]}"
  target_pairs[${BASH_REMATCH[1]}]="${BASH_REMATCH[3]//,/ }"
  defined_targets+=("${BASH_REMATCH[1]}")
}
while (($# > 0)); do
  case "$1" in
    --source | --keymap | --target | --targets | --overlay | --embed | --out | --record | --reuse | --jobs | --pin)
      (($# >= 2)) || usage
      case "$1" in
        --target) define_target "$2" ;;
        --source) source_arg="$2" ;;
        --keymap) keymap="$2" ;;
        --targets) targets="$2" ;;
        --overlay) overlay="$2" ;;
        --embed) embed="$2" ;;
        --out) out="$2" ;;
        --record) record="$2" ;;
        --reuse) reuse="$2" ;;
        --jobs) jobs="$2" ;;
        --pin) pin="$2" ;;
      esac
      shift 2
      ;;
    --packages) packages_only=1 && shift ;;
    -h | --help) usage ;;
    *) printf 'build-ipxe: unknown argument "%s"\n' "$1" >&2 && usage ;;
  esac
done
((${#defined_targets[@]} > 0)) || usage
[[ -n $targets ]] || targets="$(IFS=',' && echo "${defined_targets[*]}")"

# A target's outputs as "make goal=served name" words.
target_outputs() {
  [[ -n ${target_pairs[$1]:-} ]] ||
    die "--targets names \"$1\", which is not a target; use a comma-separated list of $(IFS=',' && echo "${defined_targets[*]}")"
  echo "${target_pairs[$1]}"
}
# CROSS= for make, by the target's CPU: empty where this machine's gcc builds it. On x86 the host gcc builds
# all x86 targets (iPXE is freestanding: no multilib needed); elsewhere (an arm64 NAS) the x86 targets need
# the x86 cross compilers, and arm64 needs one everywhere but on arm64.
host_machine="$(uname -m 2>/dev/null || echo unknown)"
target_cross() {
  case "${target_cpu[$1]}:$host_machine" in
    i386:x86_64 | i386:i?86 | x86_64:x86_64 | arm64:aarch64) ;;
    i386:*) echo 'i686-linux-gnu-' ;;
    x86_64:*) echo 'x86_64-linux-gnu-' ;;
    arm64:*) echo 'aarch64-linux-gnu-' ;;
  esac
}
# Debian names the cross compilers with "-" where the prefix has "_": x86_64-linux-gnu- → gcc-x86-64-linux-gnu.
cross_package() {
  local triplet="${1%-}"
  echo "gcc-${triplet//_/-}"
}

IFS=',' read -r -a target_list <<<"$targets"
for target in "${target_list[@]}"; do target_outputs "$target" >/dev/null; done

# What the Docker stage installs: compilers and tools for these targets on this machine, git to read a
# tarball's pax header, xz-utils for .tar.xz sources.
if [[ -n $packages_only ]]; then
  packages=(gcc libc6-dev make perl liblzma-dev xz-utils git)
  for target in "${target_list[@]}"; do
    cross="$(target_cross "$target")"
    if [[ -n $cross && " ${packages[*]} " != *" $(cross_package "$cross") "* ]]; then packages+=("$(cross_package "$cross")"); fi
  done
  echo "${packages[*]}"
  exit 0
fi

[[ -n $source_arg && -n $keymap && -n $overlay && -n $embed && -n $out ]] || usage
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive number, not \"$jobs\""
[[ $keymap =~ ^[a-z0-9_-]+$ ]] || die "--keymap \"$keymap\" is not a keymap name (lower-case letters, digits, \"-\"); use one of iPXE's src/hci/keymap/keymap_*.c names"
[[ -f $embed ]] || die "the embedded script $embed does not exist; pass the file to compile in with --embed"
for header in console.h general.h branding.h; do
  [[ -f $overlay/config/local/$header ]] || die "the overlay $overlay has no config/local/$header; pass bootstation's ipxe-src/ (or a rendered copy) with --overlay"
done

# Tools iPXE's build needs; each missing one is named with the Debian package that has it.
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed, and the iPXE build needs it: on Debian, apt-get install $2 (or ${3:-build through Docker: bootstation ipxe build without --local})"
}
need make make
need perl perl
need gcc gcc
for target in "${target_list[@]}"; do
  cross="$(target_cross "$target")"
  if [[ -n $cross ]]; then need "${cross}gcc" "$(cross_package "$cross")" "leave $target out of --targets, or build through Docker: bootstation ipxe build without --local"; fi
done
# util/zbin.c, which compresses every iPXE binary, includes lzma.h.
printf '#include <lzma.h>\n' | gcc -E -x c - >/dev/null 2>&1 ||
  die "lzma.h is missing, and iPXE's util/zbin needs it: on Debian, apt-get install liblzma-dev (or build through Docker: bootstation ipxe build without --local)"

# The pin's three facts, read before any work: version, commit (40 hex digits) and tar_sha256 (64).
pin_version='' pin_commit='' pin_sha256=''
if [[ -n $pin ]]; then
  [[ -f $pin ]] || die "the pin file $pin does not exist; pass bootstation's ipxe-src/pin.json (or your own) with --pin"
  IFS=$'\t' read -r pin_version pin_commit pin_sha256 < <(perl -MJSON::PP -0777 -ne \
    'my $p = eval { decode_json($_) }; print join("\t", map { ref $p eq "HASH" && defined $p->{$_} && !ref $p->{$_} ? $p->{$_} : "-" } qw(version commit tar_sha256)), "\n"' "$pin") || true
  [[ $pin_version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ && $pin_commit =~ ^[0-9a-f]{40}$ && $pin_sha256 =~ ^[0-9a-f]{64}$ ]] ||
    die "the pin file $pin needs \"version\" (a release tag such as v2.0.0), \"commit\" (40 hexadecimal digits) and \"tar_sha256\" (64); restore ipxe-src/pin.json from the repository"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/bootstation-ipxe.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tree="$work/ipxe"
mkdir -p "$tree" "$out"

sha256_of() { sha256sum <"$1" | cut -d' ' -f1; }

# The version a tree's src/Makefile states: the first plain number given to each of VERSION_MAJOR, _MINOR
# and _PATCH, whichever of =, := or ?= assigns it (lines that compute it from `git describe` are skipped).
makefile_version() {
  awk '/^[[:space:]]*VERSION_(MAJOR|MINOR|PATCH)[[:space:]]*[:?]?=[[:space:]]*[0-9]+[[:space:]]*$/ {
    name = $0; sub(/^[[:space:]]*VERSION_/, "", name); sub(/[^A-Z].*$/, "", name)
    value = $0; sub(/^[^=]*=/, "", value); gsub(/[[:space:]]/, "", value)
    if (!(name in v)) v[name] = value
  } END { if (("MAJOR" in v) && ("MINOR" in v) && ("PATCH" in v)) print "v" v["MAJOR"] "." v["MINOR"] "." v["PATCH"] }' "$1"
}

# Copy or unpack the source, so a build never writes into the user's tree; earlier build products stay behind.
commit='-' version=''
if [[ -d $source_arg ]]; then
  [[ -f $source_arg/src/Makefile ]] || die "$source_arg has no src/Makefile; give the top folder of an iPXE source tree (the one holding src/)"
  (cd "$source_arg" && tar --exclude='./src/bin' --exclude='./src/bin-*' --exclude='./.git' -cf - .) | (cd "$tree" && tar -xf -)
  if command -v git >/dev/null 2>&1; then commit="$(git -C "$source_arg" rev-parse HEAD 2>/dev/null || echo -)"; fi
  source_digest="$(cd "$tree" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
  if [[ -n $pin ]]; then printf 'build-ipxe: %s is a folder, built as it is (only a release tarball can be checked against %s)\n' "$source_arg" "$pin"; fi
elif [[ -f $source_arg ]]; then
  # The compression is read from the first bytes, not the name: a mirror's file may be called anything.
  # The digest is the decompressed tar stream's, since gzip's output is not promised to be byte-stable.
  case "$(head -c 6 "$source_arg" | od -An -tx1 | tr -d ' \n')" in
    1f8b*) decompress=(gzip -dc) ;;
    fd377a585a00) need xz xz-utils && decompress=(xz -dc) ;;
    *) decompress=(cat) ;;
  esac
  "${decompress[@]}" <"$source_arg" >"$work/source.tar" 2>/dev/null ||
    die "$source_arg is not a gzip, xz or plain tar file that ${decompress[0]} can read; give an iPXE release tarball or a source folder"
  source_digest="$(sha256_of "$work/source.tar")"
  # git archive, whose output GitHub's release tarballs are, writes the commit into a pax global header.
  tar_commit=''
  if [[ -n $pin ]]; then need git git; fi
  if command -v git >/dev/null 2>&1; then tar_commit="$(git get-tar-commit-id <"$work/source.tar" 2>/dev/null || true)"; fi
  if [[ -n $pin ]]; then
    name="$(basename "$source_arg")"
    [[ $tar_commit == "$pin_commit" ]] ||
      die "$name is not iPXE $pin_version as $pin pins it: its tar header names commit ${tar_commit:-(none)}, the pin names $pin_commit; fetch the release again, or pin the release you mean"
    [[ $source_digest == "$pin_sha256" ]] ||
      die "$name is not iPXE $pin_version as $pin pins it: its decompressed tar stream has SHA-256 $source_digest, the pin says $pin_sha256; fetch the release again, or pin the release you mean"
    printf 'build-ipxe: %s is iPXE %s as %s pins it (commit %s, tar stream SHA-256 %s)\n' "$name" "$pin_version" "$pin" "$pin_commit" "$pin_sha256"
    version="$pin_version"
  fi
  commit="${tar_commit:--}"
  mkdir -p "$work/unpacked"
  tar -xf "$work/source.tar" -C "$work/unpacked" || die "$source_arg is not a tar archive this tar can read; give an iPXE release tarball or a source folder"
  rm -f "$work/source.tar"
  top="$work/unpacked"
  if [[ ! -f $top/src/Makefile ]]; then
    found=("$top"/*/src/Makefile)
    [[ ${#found[@]} -eq 1 && -f ${found[0]} ]] || die "$source_arg holds no iPXE source (no src/Makefile at its top or one folder down)"
    top="${found[0]%/src/Makefile}"
  fi
  rmdir "$tree" && mv "$top" "$tree"
else
  die "--source $source_arg does not exist; give an iPXE source folder or release tarball"
fi
src="$tree/src"
# A pinned release's version is the pin's; any other tree says its own in src/Makefile.
[[ -n $version ]] || version="$(makefile_version "$src/Makefile")"
[[ -n $version ]] || version='unknown'

# The layout must be one this source links (iPXE's Makefile turns "-" into "_": keymap_no-latin1.c → keymap_no_latin1).
if [[ ! -f $src/hci/keymap/keymap_$keymap.c ]]; then
  available="$(cd "$src/hci/keymap" 2>/dev/null && for f in keymap_*.c; do f="${f#keymap_}" && printf '%s ' "${f%.c}"; done)"
  die "keymap \"$keymap\" is not in this iPXE source (src/hci/keymap/); use one of: ${available:-none found}"
fi
mkdir -p "$src/config/local"
cp "$overlay/config/local/console.h" "$overlay/config/local/general.h" "$overlay/config/local/branding.h" "$src/config/local/"
# The overlay links every layout (KEYBOARD_MAP dynamic); the build's own one is the embedded script's first
# command, `set keymap`, set here to --keymap: that is how the Docker build's KEYMAP reaches the committed
# ipxe-src/embed.ipxe.
cp "$embed" "$work/embed.ipxe"
grep -q '^set keymap ' "$work/embed.ipxe" ||
  die "the embedded script $embed has no \"set keymap\" line to set the layout in; render it again with bootstation"
sed -i "s/^set keymap .*/set keymap ${keymap}/" "$work/embed.ipxe"

# Everything that goes into a binary besides the target: source, overlay as applied, embedded script.
identity="$(
  {
    printf 'source %s\n' "$source_digest"
    (cd "$src" && sha256sum config/local/console.h config/local/general.h config/local/branding.h)
    printf 'embed %s\n' "$(sha256sum <"$work/embed.ipxe" | cut -d' ' -f1)"
  } | sha256sum | cut -d' ' -f1
)"

# A target is reused when the earlier record has its inputs and every output file is still the one recorded.
reusable() {
  local target="$1" inputs="$2" pair file
  [[ -n $reuse && -f $reuse ]] || return 1
  for pair in $(target_outputs "$target"); do
    file="${pair#*=}"
    [[ -f $out/$file ]] || return 1
    awk -F'\t' -v t="$target" -v f="$file" -v s="$(sha256_of "$out/$file")" -v i="$inputs" \
      '$1 == "output" && $2 == t && $3 == f && $4 == s && $5 == i { found = 1 } END { exit !found }' "$reuse" || return 1
  done
}

lines=("$(printf 'source\t%s\t%s\t%s' "$version" "$commit" "$identity")")
for target in "${target_list[@]}"; do
  cross="$(target_cross "$target")"
  goals=()
  for pair in $(target_outputs "$target"); do goals+=("${pair%%=*}"); done
  inputs="$(printf '%s\n' "$identity" "$target" "$cross" "${goals[@]}" | sha256sum | cut -d' ' -f1)"
  if reusable "$target" "$inputs"; then
    status=reused
    printf 'build-ipxe: %s is unchanged, keeping %s\n' "$target" "$(target_outputs "$target" | sed 's/[^ ]*=//g')"
  else
    status=built
    printf 'build-ipxe: building %s (%s) with make -j%s\n' "$target" "${goals[*]}" "$jobs"
    make_args=(-C "$src" -j"$jobs" EMBED="$work/embed.ipxe")
    if [[ -n $cross ]]; then make_args+=(CROSS="$cross"); fi
    make "${make_args[@]}" "${goals[@]}" || die "make failed for target $target (${goals[*]}); the lines above say why"
  fi
  for pair in $(target_outputs "$target"); do
    goal="${pair%%=*}" file="${pair#*=}"
    if [[ $status == built ]]; then
      [[ -f $src/$goal ]] || die "make succeeded for target $target but left no $goal"
      # Copied under a temporary name and renamed, so a running server never serves half a binary.
      cp "$src/$goal" "$out/.$file.tmp"
      mv -f "$out/.$file.tmp" "$out/$file"
    fi
    lines+=("$(printf 'output\t%s\t%s\t%s\t%s\t%s' "$target" "$file" "$(sha256_of "$out/$file")" "$inputs" "$status")")
  done
done

if [[ -n $record ]]; then
  printf '%s\n' "${lines[@]}" >"$record.tmp"
  mv -f "$record.tmp" "$record"
fi
printf 'build-ipxe: iPXE %s with keymap %s: %s in %s\n' "$version" "$keymap" "$targets" "$out"
