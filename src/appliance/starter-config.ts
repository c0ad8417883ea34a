// The commented starter images.yaml the container writes on its first start.
/**
 * The images.yaml a container writes to /config on its first start: valid as it is (it serves an empty
 * menu), with every common key shown commented out, so users edit it instead of starting from nothing.
 */
export function renderStarterConfig(): string {
  return `# bootstation configuration, written on the container's first start because none existed.
# Edit it and save: the running server reloads it (a broken file is rejected with file:line:column in
# \`docker logs bootstation\`, and the previous configuration keeps serving).
# Every key is described in the README's "images.yaml" section.

server:
  # interface: eth0        # default: the interface of the default route (env BOOTSTATION_INTERFACE wins)
  # address: 192.168.1.20  # default: that interface's first IPv4 address; advertised to clients
  http_port: 80            # Synology DSM holds port 80 itself: use e.g. 8080 there
  proxy_dhcp: true         # false: TFTP + HTTP only; your router then hands out next-server and the boot file
menu:
  title: Network boot
  timeout: 10              # seconds before menu.default boots; 0 boots it at once
  # default: debian-netboot
# ipxe: {keymap: de}       # keyboard layout for every machine, applied at the next boot (no rebuild)
images: []
# images:
#   - id: debian-netboot
#     label: Debian 12 installer
#     recipe: debian-netboot     # then: docker compose exec bootstation bootstation ingest
#     source:
#       url: https://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images/netboot/netboot.tar.gz
#       sha256: <the SHA-256 of netboot.tar.gz, from SHA256SUMS next to it>
#   - id: rescue
#     label: Files already on the NAS
#     source:
#       dir: /data/netboot/rescue  # a folder inside the data volume
#     boot:
#       kernel: vmlinuz
#       initrd: [initrd.img]
#       args: ip=dhcp
# hosts:                         # per machine: an image it always boots (no menu) and/or its keyboard layout
#   "52:54:00:12:34:56": rescue
#   "52:54:00:12:34:57": {keymap: fr}
`;
}
