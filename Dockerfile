# bootstation's container image: `docker compose up -d` with compose.yaml runs it (see README, "Docker").
# Stages: ipxe (iPXE binaries), build (npm ci + TypeScript), runtime (Node, production dependencies, dist/).
# Build arguments: NODE_IMAGE and DEBIAN_IMAGE (base images, for a mirror or an air-gapped site), KEYMAP,
# TARGETS, IPXE_SOURCE and IPXE_MIRROR (the ipxe stage), VERSION, REVISION and SOURCE_URL (OCI labels).
# Works with the classic builder and BuildKit alike; no `# syntax=` line, which would pull a frontend image.
# Platforms: the runtime stage is the target platform's, the ipxe and build stages run on the build machine.
# The classic builder builds for the engine's own platform; another one (`--platform linux/arm64`) needs BuildKit
# (DOCKER_BUILDKIT=1 or buildx) and, for the runtime stage's RUN, QEMU's binfmt_misc emulation (see docs/docker.md).
# BUILD_NODE_IMAGE is the build machine's Node image: NODE_IMAGE when that names one image for every platform
# (as Docker Hub's node does); a mirror holding one image per platform names the build machine's here.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG BUILD_NODE_IMAGE=${NODE_IMAGE}

# bootstation's iPXE build stage, defined in src/ipxe/docker-context.ts (renderIpxeDockerfile); the project
# Dockerfile holds the same lines, checked by test/integration/ipxe-docker-context.test.ts. The build context holds
# scripts/build-ipxe.sh and ipxe-src/ (config/local overlay, pin.json, embed.ipxe, optional source/<name>).
# IPXE_SOURCE: "pinned" (the default) downloads the release ipxe-src/pin.json names, from IPXE_MIRROR when
# that is set; the name of a file under ipxe-src/source/ builds that copy (air-gapped sites). Either tarball
# is checked against the pin (decompressed tar stream SHA-256, pax-header commit) by scripts/build-ipxe.sh
# before anything is compiled, as `bootstation ipxe build` checks it; a folder there is built as it is.
# "stock" copies the binaries of Debian's ipxe package instead (no compiler, no keymap, no embedded script,
# no ipxe32.efi or snp-arm64.efi).
# iPXE is firmware for the clients, not for the host: the stage runs on the build machine (BUILDPLATFORM) and
# cross-compiles, also when the image is for another platform. The classic builder does not set BUILDPLATFORM;
# "linux" then means the engine's own platform. An ARG default would override BuildKit's value, hence :-.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM --platform=${BUILDPLATFORM:-linux} ${DEBIAN_IMAGE} AS ipxe
ARG TARGETS=bios,efi64,efi32,arm64
ARG IPXE_SOURCE=pinned
# Every target the script can build (name:CPU:make goal=served file), from src/boot/platform.ts; TARGETS picks.
ENV BUILD_IPXE_TARGETS="--target bios:i386:bin/undionly.kpxe=undionly.kpxe --target efi64:x86_64:bin-x86_64-efi/ipxe.efi=ipxe.efi,bin-x86_64-efi/snponly.efi=snponly.efi --target efi32:i386:bin-i386-efi/ipxe.efi=ipxe32.efi --target arm64:arm64:bin-arm64-efi/snp.efi=snp-arm64.efi"
COPY scripts/build-ipxe.sh /build/build-ipxe.sh
# The script names the packages TARGETS need on this machine: gcc-aarch64-linux-gnu on x86, the x86 cross
# compilers on arm64 (the same Dockerfile builds on both). curl fetches the pinned release.
RUN apt-get update \
 && case "${IPXE_SOURCE}" in \
      stock) apt-get install -y --no-install-recommends ipxe ;; \
      pinned) apt-get install -y --no-install-recommends $(bash /build/build-ipxe.sh ${BUILD_IPXE_TARGETS} --packages --targets "${TARGETS}") curl ca-certificates ;; \
      *) apt-get install -y --no-install-recommends $(bash /build/build-ipxe.sh ${BUILD_IPXE_TARGETS} --packages --targets "${TARGETS}") ;; \
    esac \
 && rm -rf /var/lib/apt/lists/*
COPY ipxe-src/ /build/ipxe-src/
ARG IPXE_MIRROR=
ARG KEYMAP=us
RUN set -eu; mkdir -p /out; \
    case "${IPXE_SOURCE}" in \
      stock) cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi /usr/lib/ipxe/snponly.efi /out/; exit 0 ;; \
      pinned) url="${IPXE_MIRROR:-$(perl -MJSON::PP -0777 -ne 'print decode_json($_)->{url}' /build/ipxe-src/pin.json)}"; \
        curl -fsSL --retry 2 -o /build/ipxe-release "$url" \
          || { echo "build-ipxe: the iPXE source could not be downloaded from $url (curl says why above); set IPXE_MIRROR to a copy this build can reach, or put the release tarball under ipxe-src/source/ and name it with IPXE_SOURCE" >&2; exit 1; }; \
        source=/build/ipxe-release ;; \
      *) source="/build/ipxe-src/source/${IPXE_SOURCE}" ;; \
    esac; \
    printf '%s\n' "${KEYMAP}" > /out/keymap; \
    /build/build-ipxe.sh ${BUILD_IPXE_TARGETS} --pin /build/ipxe-src/pin.json --source "$source" --keymap "${KEYMAP}" --targets "${TARGETS}" \
      --overlay /build/ipxe-src --embed /build/ipxe-src/embed.ipxe --out /out --record /out/build-record.tsv

# dist/ and the production node_modules are the same on every platform (no dependency ships a platform package,
# and --ignore-scripts builds no native addon: ssh2 then uses its JavaScript code), so this stage runs on the build
# machine too, and an image for another platform runs neither npm nor TypeScript under emulation.
FROM --platform=${BUILDPLATFORM:-linux} ${BUILD_NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The prepare script builds dist/, which needs the sources: scripts wait until they are copied in.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=
ARG SOURCE_URL=
LABEL org.opencontainers.image.title="bootstation" \
      org.opencontainers.image.description="Network-boot appliance: ProxyDHCP, TFTP and HTTP in one process, with an iPXE menu generated from images.yaml" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT"
# Capabilities, all else dropped in compose.yaml:
# - CAP_NET_BIND_SERVICE: ProxyDHCP binds UDP 67 and 4011, TFTP UDP 69, HTTP TCP 80 (all below 1024).
#   A non-root process gets a capability from the container's bounding set only through the executable's
#   file capabilities (Docker gives non-root users no ambient ones), hence setcap on node; the node binary
#   then refuses to start where the container lacks the capability, with "operation not permitted".
# - nothing else: ProxyDHCP answers with SO_BROADCAST on ordinary UDP sockets (no raw sockets, so no
#   CAP_NET_RAW; no SO_BINDTODEVICE), and the container never changes the interface or routes (no
#   CAP_NET_ADMIN). test/e2e/docker.test.ts boots BIOS and UEFI VMs with cap_drop ALL + NET_BIND_SERVICE.
# debian-archive-keyring: /usr/share/keyrings/debian-archive-keyring.gpg checks Debian's signed Release by default.
# xz-utils: ingest unpacks .tar.xz archives and Debian packages (memtest86plus: data.tar.xz) with the xz command; the
# slim image leaves it out (Priority: standard).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin debian-archive-keyring xz-utils \
 && setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v node)")" \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 bootstation \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin bootstation \
 && mkdir -p /config /data && chown bootstation:bootstation /config /data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
# The npm package's layout (package.json "files"): `bootstation ipxe build` finds its script, overlay and pin here.
COPY scripts/build-ipxe.sh scripts/build-ipxe.sh
COPY ipxe-src/ ipxe-src/
# What the ipxe stage built; serve copies it into /data/ipxe on start unless the user built their own there.
COPY --from=ipxe /out/ /opt/bootstation/ipxe/
RUN ln -s /app/dist/cli/main.js /usr/local/bin/bootstation && chmod 755 /app/dist/cli/main.js
ENV NODE_ENV=production \
    BOOTSTATION_CONFIG=/config/images.yaml \
    BOOTSTATION_DATA=/data \
    BOOTSTATION_IMAGE_IPXE=/opt/bootstation/ipxe
USER bootstation
VOLUME /data
HEALTHCHECK --interval=15s --timeout=10s --start-period=20s --retries=3 CMD ["node", "/app/dist/appliance/healthcheck.js"]
# Node sizes its young generation by the machine's memory (up to 128 MiB on a 24 GiB NAS); 8 MB semi-spaces keep
# the server under 200 MB resident under load, and ProxyDHCP answered faster with them (measured: bench/RESULTS.md).
# npm start and the bin's #! line pass the same option.
ENTRYPOINT ["node", "--max-semi-space-size=8", "/app/dist/cli/main.js"]
CMD ["serve"]
