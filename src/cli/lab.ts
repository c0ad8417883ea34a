// `bootstation lab`: loads the VM lab from tools/lab of a source checkout; the image and the npm package do not ship it.
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** Options of `bootstation lab`, as parsed from the command line. */
export interface LabOptions {
  /** The --firmware value; the lab checks it against its firmware kinds. */
  firmware: string | undefined;
  configPath?: string;
  dataDir: string;
}

// src/cli/ and dist/cli/ are both two levels below the checkout, so one relative URL serves both.
const LAB_COMMAND = new URL('../../tools/lab/command.ts', import.meta.url);

// The lab runs `bootstation serve` from the same installation: main.ts next to this file when run
// from source, main.js in dist/.
const MAIN = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './main.ts' : './main.js', import.meta.url));

/** The part of tools/lab/command.ts this loader calls (typed here: the build compiles src/ alone). */
interface LabCommandModule {
  runLab(options: LabOptions & { main: string }): Promise<number>;
}

/** Runs `bootstation lab` from tools/lab, or says in one sentence that the lab needs a source checkout. */
export async function runLab(options: LabOptions): Promise<number> {
  const path = fileURLToPath(LAB_COMMAND);
  if (!(await access(path).then(() => true, () => false))) {
    process.stderr.write(`bootstation lab: the VM lab runs from a source checkout (git clone, npm ci, then sudo npx bootstation lab); ${path} is not part of this installation\n`);
    return 1;
  }
  // A computed specifier: TypeScript leaves it alone, and Node's type stripping runs the .ts file.
  const lab = (await import(LAB_COMMAND.href)) as LabCommandModule;
  return lab.runLab({ ...options, main: MAIN });
}
