// The platform table (src/boot/platform.ts) is consistent, and DHCP, the iPXE build, the menu filter, the doctor
// and the lab take their platform facts from it rather than from tables of their own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firmwareFamily } from '../../src/boot/client.ts';
import { FIRMWARE_FAMILIES } from '../../src/config/model.ts';
import { FIRST_STAGE_FILES, PLATFORMS, VENDOR_CLASS_PREFIX, firstStageFile, platformOfArchitecture, platformOfIpxe, type BootTransport } from '../../src/boot/platform.ts';
import { classifyClient } from '../../src/dhcp/classify.ts';
import { decideProxyDhcpAnswer, type ProxyDhcpPolicy } from '../../src/dhcp/proxy-answer.ts';
import { checkIpxeBinaries } from '../../src/doctor/checks.ts';
import { renderIpxeDockerfile } from '../../src/ipxe/docker-context.ts';
import { buildScriptTargetArgs, IPXE_TARGET_NAMES, parseTargets } from '../../src/ipxe/targets.ts';
import { pxeClientRequest } from '../../tools/dhcp-request-builder.ts';
import { LAB_FIRMWARE, labPlatform } from '../../tools/lab/topology.ts';

const TRANSPORTS: readonly BootTransport[] = ['pxe', 'http'];

/** Every value of one column across the rows, to check it for repeats. */
function column(values: readonly string[], name: string): void {
  const repeated = values.filter((value, index) => values.indexOf(value) !== index);
  assert.deepEqual(repeated, [], `${name} must be unique across the rows of src/boot/platform.ts`);
}

describe('the platform table', () => {
  it('has unique ids, display names, option 93 codes, iPXE platforms, build targets, make goals, output files and lab VMs', () => {
    column(PLATFORMS.map((platform) => platform.id), 'id');
    column(PLATFORMS.map((platform) => platform.displayName), 'displayName');
    column(PLATFORMS.flatMap((platform) => TRANSPORTS.flatMap((transport) => (platform.architectures[transport] as readonly number[]).map(String))), 'option 93 code');
    column(PLATFORMS.map((platform) => `${platform.ipxe.platform}/${platform.ipxe.buildarch}`), 'iPXE ${platform}/${buildarch}');
    column(PLATFORMS.map((platform) => platform.build.target), 'build target');
    column(PLATFORMS.flatMap((platform) => platform.build.outputs.map((output) => output.make)), 'make goal');
    column(PLATFORMS.flatMap((platform) => platform.build.outputs.map((output) => output.file)), 'output file');
    column(LAB_FIRMWARE, 'labFirmware');
  });

  it("builds every row's first-stage file, which fits the DHCP file field", () => {
    for (const platform of PLATFORMS) {
      assert.ok(platform.build.outputs.some((output) => output.file === platform.firstStage), `${platform.id}: ${platform.firstStage} has no make goal in its build target`);
      assert.match(platform.firstStage, /^[\x21-\x7e]{1,127}$/, `${platform.id}: the first stage fits the 127-byte ASCII file field (RFC 2131 §2)`);
      assert.ok(platform.architectures.pxe.length + platform.architectures.http.length > 0, `${platform.id}: no option 93 code reaches it`);
    }
    assert.deepEqual(FIRST_STAGE_FILES, PLATFORMS.map((platform) => platform.firstStage));
  });

  it('gives every row of one iPXE ${platform} the same firmware family, and its CPU as ${buildarch}', () => {
    for (const platform of PLATFORMS) {
      assert.equal(firmwareFamily({ platform: platform.ipxe.platform }), platform.family, `${platform.id}: the menu filter's family`);
      assert.equal(platform.ipxe.buildarch, platform.cpu, `${platform.id}: iPXE reports the CPU it was built for`);
      assert.equal(platformOfIpxe(platform.ipxe.platform, platform.ipxe.buildarch), platform);
    }
    assert.equal(firmwareFamily({ platform: 'riscv' }), undefined, 'an unknown ${platform} hides nothing');
    for (const family of FIRMWARE_FAMILIES) assert.ok(PLATFORMS.some((platform) => platform.family === family), `images.yaml's firmware: ${family} matches a row`);
    assert.equal(platformOfIpxe('efi', undefined), undefined);
  });

  it('names the first stage by platform id', () => {
    assert.equal(firstStageFile('efi-arm64'), 'snp-arm64.efi');
    assert.equal(firstStageFile('bios'), 'undionly.kpxe');
  });
});

describe('DHCP derives from the table', () => {
  const policy: ProxyDhcpPolicy = { serverAddress: '10.77.0.2', httpPort: 8080, bootScriptUrl: 'http://10.77.0.2:8080/boot.ipxe', binaries: new Set(FIRST_STAGE_FILES), customBuild: false };
  for (const platform of PLATFORMS) {
    for (const transport of TRANSPORTS) {
      for (const code of platform.architectures[transport] as readonly number[]) {
        it(`option 93 = ${code} over ${transport} is ${platform.id} and gets ${platform.firstStage}`, () => {
          assert.deepEqual(platformOfArchitecture(code), { platform, transport });
          const vendorClass = `${VENDOR_CLASS_PREFIX[transport]}:Arch:${String(code).padStart(5, '0')}:UNDI:003000`;
          const packet = pxeClientRequest({ architecture: code, vendorClass });
          const client = classifyClient(packet);
          assert.ok(client.netboot, `classified as netboot (${client.netboot ? '' : client.reasons.join('; ')})`);
          assert.equal(client.firmware, platform.id);
          assert.equal(client.transport, transport);
          const decision = decideProxyDhcpAnswer({ packet, client, receivedOn: 'dhcp', source: { address: '0.0.0.0', port: 68 } }, policy);
          assert.equal(decision.action, 'reply');
          assert.equal(decision.action === 'reply' && decision.bootFile, transport === 'http' ? `http://10.77.0.2:8080/ipxe/${platform.firstStage}` : platform.firstStage);
        });
      }
    }
  }

  it('ignores option 93 codes that no row names, saying so', () => {
    assert.equal(platformOfArchitecture(25), undefined);
    const client = classifyClient(pxeClientRequest({ architecture: 25 }));
    assert.ok(!client.netboot && client.reasons.some((reason) => /option 93 = 25\) has no first-stage iPXE binary/.test(reason)));
  });
});

describe('the iPXE build derives from the table', () => {
  it('takes --targets names from the rows and hands the script every make goal of the chosen rows', () => {
    assert.deepEqual(IPXE_TARGET_NAMES, PLATFORMS.map((platform) => platform.build.target));
    assert.deepEqual(parseTargets(IPXE_TARGET_NAMES.join(',')), IPXE_TARGET_NAMES);
    const definitions = PLATFORMS.map((platform) => `${platform.build.target}:${platform.cpu}:${platform.build.outputs.map((output) => `${output.make}=${output.file}`).join(',')}`);
    assert.deepEqual(buildScriptTargetArgs(), definitions.flatMap((definition) => ['--target', definition]));
  });

  it('puts every row into the Docker stage, and copies from Debian only what its ipxe package ships', () => {
    const stage = renderIpxeDockerfile();
    assert.ok(stage.includes(`ENV BUILD_IPXE_TARGETS="${buildScriptTargetArgs().join(' ')}"`));
    const stock = /stock\) cp (.*) \/out\//.exec(stage)?.[1]?.split(' ') ?? [];
    assert.deepEqual(stock, PLATFORMS.filter((platform) => platform.inDebianIpxe).flatMap((platform) => platform.build.outputs.map((output) => `/usr/lib/ipxe/${output.file}`)));
  });
});

describe('the doctor and the lab derive from the table', () => {
  it('gives one doctor line per row, failing for required rows and warning for the others', () => {
    const lines = checkIpxeBinaries({ kind: 'own-build', dir: '/data/ipxe', files: new Map(), build: { version: 'v2.0.0', keymap: 'us', builtAt: 'now' } }).slice(1);
    assert.deepEqual(lines.map((line) => [line.message.split(':')[0], line.status]), PLATFORMS.map((platform) => [platform.displayName, platform.required ? 'fail' : 'warn']));
    for (const [index, platform] of PLATFORMS.entries()) assert.match(lines[index]?.fix ?? '', new RegExp(`--targets ${platform.build.target}\\b`));
  });

  it('boots each lab VM as its row', () => {
    for (const firmware of LAB_FIRMWARE) {
      const platform = labPlatform(firmware);
      assert.equal('labFirmware' in platform && platform.labFirmware, firmware.replace(/-http$/, ''));
    }
    assert.deepEqual(LAB_FIRMWARE, ['bios', 'efi', 'efi-http', 'efi32', 'efi32-http', 'arm64', 'arm64-http'], 'the documented --firmware names of `bootstation lab`');
  });
});
