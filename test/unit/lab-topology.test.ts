import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderRouterDnsmasqConfig } from '../../tools/lab/dnsmasq-config.ts';
import { qemuCommand } from '../../tools/lab/qemu-args.ts';
import { commandInHost, LAB_FIRMWARE, labNetworkCommands, labPlatform, labTopology, labTransport } from '../../tools/lab/topology.ts';

const lab = labTopology('bse2e');
const commands = labNetworkCommands(lab);

describe('lab network', () => {
  it('keeps every interface name within Linux IFNAMSIZ (15 characters)', () => {
    const names = [lab.bridge, lab.hostInterface, ...Object.values(lab.switchPorts), ...Object.values(lab.vms).map((vm) => vm.tap)];
    for (const name of names) assert.ok(name.length <= 15, `${name} is too long for an interface name`);
  });

  it('has a VM for every platform row with a labFirmware, and an HTTP Boot twin for each UEFI one', () => {
    assert.deepEqual(LAB_FIRMWARE, ['bios', 'efi', 'efi-http', 'efi32', 'efi32-http', 'arm64', 'arm64-http']);
    assert.equal(labPlatform('arm64-http').id, 'efi-arm64');
    assert.equal(labPlatform('efi').id, 'efi-x64');
    assert.equal(labTransport('efi-http'), 'http');
    assert.equal(labTransport('efi'), 'pxe');
  });

  it('gives every VM its own tap and MAC, so all of them can run in one lab at once', () => {
    const vms = Object.values(lab.vms);
    assert.equal(vms.length, LAB_FIRMWARE.length);
    assert.equal(new Set(vms.map((vm) => vm.tap)).size, vms.length);
    assert.equal(new Set(vms.map((vm) => vm.mac)).size, vms.length);
    for (const vm of vms) assert.match(vm.mac, /^52:54:00:77:00:[0-9a-f]{2}$/);
  });

  it('refuses prefixes that would make long or odd namespace names', () => {
    assert.throws(() => labTopology('much-too-long'), /1-8 lower-case/);
    assert.throws(() => labTopology('Bad'), /1-8 lower-case/);
  });

  it('uses only addresses inside 10.77.0.0/24', () => {
    const addresses = commands.flat().join(' ').match(/\b\d+\.\d+\.\d+\.\d+\b/g) ?? [];
    assert.ok(addresses.length >= 2, 'the router and the NAS get addresses');
    for (const address of addresses) assert.match(address, /^10\.77\.0\.\d+$/);
  });

  it('puts every host veth and every VM tap on the bridge, which forwards at once', () => {
    const enslaved = commands.filter((argv) => argv.includes('master')).map((argv) => argv[5]);
    assert.deepEqual(enslaved.sort(), [...Object.values(lab.switchPorts), ...Object.values(lab.vms).map((vm) => vm.tap)].sort());
    const bridge = commands.find((argv) => argv.includes('bridge'));
    assert.deepEqual(bridge?.slice(-4), ['stp_state', '0', 'forward_delay', '0']);
  });

  it('turns tx checksum offload off on both ends of every veth that feeds the taps', () => {
    const offloads = commands.filter((argv) => argv.includes('ethtool')).map((argv) => `${argv[3]}/${argv[6]}`);
    assert.deepEqual(offloads.sort(), [`${lab.namespaces.nas}/eth0`, `${lab.namespaces.router}/eth0`, `${lab.namespaces.switch}/vnas`, `${lab.namespaces.switch}/vrouter`].sort());
    for (const argv of commands.filter((a) => a.includes('ethtool'))) assert.deepEqual(argv.slice(-2), ['tx', 'off']);
  });

  it('creates the namespaces before anything goes into them', () => {
    const firstUse = commands.findIndex((argv) => argv[1] === '-n');
    const lastAdd = commands.findLastIndex((argv) => argv[1] === 'netns' && argv[2] === 'add');
    assert.ok(lastAdd < firstUse);
  });
});

describe('entering a lab host', () => {
  const lab = labTopology('bsx');
  it('runs ordinary commands under ip netns exec', () => {
    assert.deepEqual(commandInHost(lab, 'router', ['dnsmasq', '-k']), ['ip', 'netns', 'exec', 'bsx-router', 'dnsmasq', '-k']);
  });
  it('joins only the network namespace for dockerd, which needs the host mounts (cgroups, /sys)', () => {
    assert.deepEqual(commandInHost(lab, 'nas', ['dockerd', '--debug'], 'network-only'), ['nsenter', '--net=/var/run/netns/bsx-nas', '--', 'dockerd', '--debug']);
  });
});

describe('router dnsmasq config', () => {
  const text = renderRouterDnsmasqConfig(lab, { leaseFile: '/w/leases', pidFile: '/w/pid', logFile: '/w/log' });

  it('hands out addresses and a gateway on the lab subnet', () => {
    assert.match(text, /^dhcp-range=10\.77\.0\.100,10\.77\.0\.199,255\.255\.255\.0,1h$/m);
    assert.match(text, /^dhcp-option=option:router,10\.77\.0\.1$/m);
    assert.match(text, /^interface=eth0$/m);
    assert.match(text, /^port=0$/m, 'no DNS server');
  });

  it('gives no boot information, so only ProxyDHCP can make a VM boot', () => {
    assert.doesNotMatch(text, /dhcp-boot|pxe-service|pxe-prompt|enable-tftp|next-server|option:bootfile|option:tftp|dhcp-option=(66|67|43|60)\b/);
  });
});

describe('QEMU command lines', () => {
  const spec = (firmware: (typeof LAB_FIRMWARE)[number]) =>
    qemuCommand({ firmware, tap: 'tap-x', mac: '52:54:00:77:00:09', serialLog: '/w/serial.log', efiVars: firmware === 'bios' ? undefined : '/w/vars.fd' });

  it('always emulates with TCG and never asks for KVM (nested KVM hangs on the CI machines)', () => {
    for (const firmware of LAB_FIRMWARE) {
      const { args } = spec(firmware);
      assert.equal(args[args.indexOf('-accel') + 1], 'tcg', firmware);
      assert.doesNotMatch(args.join(' '), /kvm/i, firmware);
    }
  });

  it('sends the serial console to the log, ends on reboot, and uses the tap without scripts', () => {
    for (const firmware of LAB_FIRMWARE) {
      const args = spec(firmware).args.join(' ');
      assert.match(args, /-serial file:\/w\/serial\.log/);
      assert.match(args, /-no-reboot/);
      assert.match(args, /-netdev tap,id=net0,ifname=tap-x,script=no,downscript=no/);
    }
  });

  it('BIOS: SeaBIOS on the serial console, an e1000 with its iPXE ROM, network boot', () => {
    const { command, args } = spec('bios');
    assert.equal(command, 'qemu-system-x86_64');
    assert.match(args.join(' '), /-machine pc,graphics=off .*-device e1000,netdev=net0,mac=52:54:00:77:00:09 -boot n$/);
    assert.doesNotMatch(args.join(' '), /pflash/);
  });

  it("UEFI x64: OVMF with a private varstore and a virtio NIC without iPXE's ROM, so EDK2's PXE runs", () => {
    const args = spec('efi').args.join(' ');
    assert.match(args, /if=pflash,format=raw,unit=0,readonly=on,file=\/usr\/share\/OVMF\/OVMF_CODE_4M\.fd/);
    assert.match(args, /if=pflash,format=raw,unit=1,file=\/w\/vars\.fd/);
    assert.match(args, /virtio-net-pci,netdev=net0,mac=52:54:00:77:00:09,romfile=,bootindex=1/);
  });

  it('UEFI ia32: qemu-system-i386 with the SMM build of OVMF32', () => {
    const { command, args } = spec('efi32');
    assert.equal(command, 'qemu-system-i386');
    assert.match(args.join(' '), /q35,smm=on .*OVMF32_CODE_4M\.secboot\.fd/);
  });

  it('UEFI arm64: qemu-system-aarch64 virt with a Cortex-A57 (-cpu max is 4 times slower), AAVMF and 1 GiB', () => {
    const { command, args } = spec('arm64');
    assert.equal(command, 'qemu-system-aarch64');
    const line = args.join(' ');
    assert.match(line, /-machine virt -cpu cortex-a57 /);
    assert.match(line, /-m 1024 /);
    assert.match(line, /if=pflash,format=raw,unit=0,readonly=on,file=\/usr\/share\/AAVMF\/AAVMF_CODE\.fd/);
    assert.match(line, /virtio-net-pci,netdev=net0,mac=52:54:00:77:00:09,romfile=,bootindex=1/);
  });

  it('HTTP Boot VMs are the same firmware with PXE turned off through fw_cfg; PXE VMs leave it on', () => {
    const pxeOff = /-fw_cfg name=opt\/org\.tianocore\/IPv4PXESupport,string=n -fw_cfg name=opt\/org\.tianocore\/IPv6PXESupport,string=n/;
    for (const [http, pxe] of [['efi-http', 'efi'], ['arm64-http', 'arm64'], ['efi32-http', 'efi32']] as const) {
      const httpArgs = spec(http);
      const pxeArgs = spec(pxe);
      assert.match(httpArgs.args.join(' '), pxeOff, http);
      assert.doesNotMatch(pxeArgs.args.join(' '), /fw_cfg/, pxe);
      assert.equal(httpArgs.command, pxeArgs.command);
      assert.deepEqual(httpArgs.args.filter((arg) => !arg.includes('fw_cfg') && !arg.includes('PXESupport')).map((arg) => arg.replace(http, pxe)), pxeArgs.args);
    }
  });

  it('refuses a UEFI VM without a writable varstore', () => {
    assert.throws(() => qemuCommand({ firmware: 'efi', tap: 't', mac: 'm', serialLog: 's' }), /varstore/);
  });
});
