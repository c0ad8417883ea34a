// The text files of the lab's test initrd. /init runs as PID 1 under busybox and reports on the serial
// console (console=ttyS0 on x86, ttyAMA0 on arm64) in lines that start with SERIAL_PREFIX, which serial-report.ts reads back.

/** Every line the test initrd prints for the lab starts with this. */
export const SERIAL_PREFIX = 'BOOTSTATION-LAB';

/** Where /init finds the kernel modules to load, one path per line, dependencies first. */
export const MODULE_LIST_PATH = '/lab/modules';

/** Where /init finds the udhcpc event script. */
export const UDHCPC_SCRIPT_PATH = '/lab/udhcpc.script';

/**
 * /init: prints the marker, `uname -m` (which kernel ran) and /proc/cmdline; when the command line has netboot=URL (as SystemRescue's
 * netboot= has), brings up the NIC with udhcpc, fetches URL and URL.sha256 with wget, reports whether
 * the checksum matches; then powers off.
 */
export function renderInitScript(): string {
  const say = (text: string) => `echo "${SERIAL_PREFIX} ${text}"`;
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
# Kernel messages from here on (NIC link up, …) would split our lines on the shared serial port.
dmesg -n 1
${say('marker: test initrd is running')}
${say('machine: $(uname -m)')}
${say('cmdline: $(cat /proc/cmdline)')}
url=
for arg in $(cat /proc/cmdline); do
  case "$arg" in netboot=*) url="\${arg#netboot=}" ;; esac
done
netboot() {
  while read -r module; do insmod "$module" || return 1; done < ${MODULE_LIST_PATH}
  nic=
  for try in 1 2 3 4 5 6 7 8 9 10; do
    for path in /sys/class/net/*; do [ "\${path##*/}" = lo ] || nic="\${path##*/}"; done
    [ -n "$nic" ] && break
    sleep 1
  done
  [ -n "$nic" ] || { ${say('netboot: failed no network interface appeared')}; return 1; }
  ip link set "$nic" up
  udhcpc -i "$nic" -n -q -t 10 -T 2 -s ${UDHCPC_SCRIPT_PATH} >/dev/null 2>&1 || { ${say('netboot: failed no DHCP lease on $nic')}; return 1; }
  wget -q -O /tmp/payload "$url" || { ${say('netboot: failed to fetch $url')}; return 1; }
  wget -q -O /tmp/payload.sha256 "$url.sha256" || { ${say('netboot: failed to fetch $url.sha256')}; return 1; }
  actual=$(sha256sum /tmp/payload | cut -d " " -f 1)
  expected=$(cut -d " " -f 1 /tmp/payload.sha256)
  if [ "$actual" = "$expected" ]; then
    ${say('netboot: ok sha256=$actual url=$url')}
  else
    ${say('netboot: failed checksum mismatch sha256=$actual expected=$expected url=$url')}
  fi
}
[ -n "$url" ] && netboot
${say('done: powering off')}
poweroff -f
`;
}

/** The udhcpc event script: configures the lease it is given (busybox exports ip, mask bits and router). */
export function renderUdhcpcScript(): string {
  return `#!/bin/sh
case "$1" in
  bound|renew)
    ip address flush dev "$interface"
    ip address add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "\${router%% *}" dev "$interface"
    ;;
esac
exit 0
`;
}
