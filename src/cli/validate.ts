// `bootstation validate`: checks images.yaml and prints a summary of what it describes.
import { findMissingBootFiles } from '../boot/image-files.ts';
import { resolve } from 'node:path';
import { loadConfigFile } from '../config/load.ts';

/** `bootstation validate`: checks images.yaml and prints what it describes; ConfigError propagates (exit 2). */
export async function runValidate(options: { configPath: string; dataDir: string }): Promise<number> {
  const config = await loadConfigFile(options.configPath, { dataDir: resolve(options.dataDir) });
  const missing = await findMissingBootFiles(config);
  const out: string[] = [`${options.configPath}: valid`];
  out.push(`  menu: "${config.menu.title}", default ${config.menu.defaultImage ?? '(none)'}, timeout ${config.menu.timeoutSeconds}s`);
  out.push(`  server: http port ${config.server.httpPort}, ProxyDHCP ${config.server.proxyDhcp ? 'on' : 'off'}, interface ${config.server.interface ?? '(default route)'}, address ${config.server.address ?? '(from interface)'}`);
  out.push(`  ipxe: keymap ${config.ipxe.keymap ?? "(none: the build's own layout stays)"}`);
  out.push(`  images: ${config.images.length}`);
  for (const image of config.images) {
    const files = missing.get(image.id);
    const state = image.chain !== undefined ? `ready, chains ${image.chain}` : files ? `not ready, missing ${files.join(', ')} in ${image.dir}` : 'ready';
    const firmware = image.firmware ? ` [${image.firmware.join(', ')}]` : '';
    out.push(`    ${image.id}: ${image.label}${firmware}: ${state}`);
  }
  out.push(`  hosts: ${config.hosts.size}`);
  for (const [mac, host] of config.hosts) {
    out.push(`    ${mac} → ${[host.image ?? 'menu', ...(host.keymap ? [`keymap ${host.keymap}`] : [])].join(', ')}`);
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
