import type { BootSpec, FirmwareFamily } from '../config/model.ts';

/** A built-in recipe: what to extract from a distro's archive and how to boot it. Pure data. */
export interface Recipe {
  /** What the recipe is for, for `bootstation images` and the README. */
  title: string;
  /** Archive paths to extract (globs: `*` within a segment, `**` across segments). */
  extract: readonly string[];
  /**
   * Stable names for files whose archive name carries a version: target path → glob. Ingest installs the
   * target itself when the archive has it, else the one file matching the glob, under the target's name.
   */
  renames?: Readonly<Record<string, string>>;
  boot: BootSpec;
  firmwareBoot?: Partial<Readonly<Record<FirmwareFamily, BootSpec>>>;
  firmware?: readonly FirmwareFamily[];
  /** Keep the whole archive in the image folder (served as ${iso-url}). */
  keepArchive?: boolean;
  /** What users need to know: RAM, firmware, where to get the archive. */
  notes: string;
}

/** The built-in recipes by name, as images.yaml's `recipe:` names them. */
export const RECIPES = {
  'sysrcd-legacy': {
    title: 'SystemRescueCd 5.x and older (the netboot= layout)',
    extract: ['isolinux/rescue64', 'isolinux/initram.igz', 'sysrcd.dat', 'sysrcd.md5'],
    boot: { kernel: 'isolinux/rescue64', initrds: ['isolinux/initram.igz'], args: 'dodhcp netboot=${base-url}sysrcd.dat' },
    notes: 'The root image sysrcd.dat (about 400 MB) is fetched over HTTP into RAM: 1 GB of RAM or more.',
  },
} as const satisfies Record<string, Recipe>;

/** A recipe's name. */
export type RecipeName = keyof typeof RECIPES;

/** Recipe names, for the schema and error messages. */
export const RECIPE_NAMES = Object.keys(RECIPES) as RecipeName[];
