import type { FIRMWARE_FAMILIES, IPXE_KEYMAPS } from './schema.ts';

/** A firmware family as images.yaml names it. */
export type FirmwareFamily = (typeof FIRMWARE_FAMILIES)[number];

/** One bootable image from images.yaml. */
export interface ImageConfig {
  id: string;
  label: string;
  /** Folder whose files are served under /images/<id>/. */
  dir: string;
  kernel: string;
  initrds: readonly string[];
  args: string;
  /** Undefined: boots on every firmware. */
  firmware?: readonly FirmwareFamily[];
}

/** The validated configuration every decision and service receives. */
export interface BootstationConfig {
  server: {
    interface?: string;
    address?: string;
    httpPort: number;
    proxyDhcp: boolean;
  };
  menu: { title: string; defaultImage?: string; timeoutSeconds: number };
  ipxe: { keymap: (typeof IPXE_KEYMAPS)[number] };
  images: readonly ImageConfig[];
  /** Lower-case, colon-separated MAC → image id. */
  hosts: ReadonlyMap<string, string>;
}
