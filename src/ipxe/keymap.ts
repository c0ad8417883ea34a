// Keyboard layouts as the iPXE build takes them: checking a --keymap name, and the default layout.
import { IPXE_KEYMAPS, type KeymapName } from '../config/model.ts';

/** A keyboard layout iPXE v2.0.0 ships, by the name users write (images.yaml, --keymap); the list is config/model.ts's. */
export type IpxeKeymap = KeymapName;

/** A keymap name that iPXE v2.0.0 does not ship; the message lists the ones it does. */
export class KeymapError extends Error {
  readonly code = 'BOOTSTATION_IPXE_KEYMAP';
}

/** Checks a layout name against iPXE v2.0.0's keymaps and returns it typed, or throws a KeymapError listing them. */
export function parseKeymap(name: string, where = '--keymap'): IpxeKeymap {
  const keymap = IPXE_KEYMAPS.find((candidate) => candidate === name);
  if (!keymap) throw new KeymapError(`${where} "${name.slice(0, 40)}" is not a keyboard layout of iPXE v2.0.0; use one of ${IPXE_KEYMAPS.join(' ')}`);
  return keymap;
}

/** The layout a build compiles in when neither --keymap, the KEYMAP build argument nor ipxe.keymap names one. */
export const DEFAULT_KEYMAP: IpxeKeymap = 'us';
