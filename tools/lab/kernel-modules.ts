// Reads modules.dep and orders the NIC modules the lab's test initrd loads. Pure.
/** Parses modules.dep (as depmod writes it): module path → the paths it depends on. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    deps.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

/** The module name of a path: kernel/drivers/net/virtio_net.ko → virtio_net. */
export function moduleName(path: string): string {
  return (path.split('/').pop() ?? path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_');
}

/** Paths to insmod, dependencies before their users, each once, for the named modules. */
export function moduleLoadOrder(deps: ReadonlyMap<string, readonly string[]>, names: readonly string[]): string[] {
  const byName = new Map([...deps.keys()].map((path) => [moduleName(path), path]));
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (path: string): void => {
    if (order.includes(path) || visiting.has(path)) return;
    visiting.add(path);
    for (const dependency of deps.get(path) ?? []) visit(dependency);
    order.push(path);
  };
  for (const name of names) {
    const path = byName.get(name.replaceAll('-', '_'));
    if (!path) throw new Error(`kernel module ${name} is not in modules.dep; is it built in or missing from this kernel?`);
    visit(path);
  }
  return order;
}
