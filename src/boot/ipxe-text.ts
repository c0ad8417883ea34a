// Pieces of iPXE script text (pure): untrusted words made safe, URL paths, the keyboard layout command.
import type { KeymapName } from '../config/model.ts';

// iPXE splits a script line on whitespace with no quoting (core/exec.c split_command), treats the
// tokens "||", "&&" and ";" as command separators and a token starting with "#" as a comment, and
// only then expands ${...} settings in each token. Options are recognised by a leading "-".
// An empty expansion "${}" in front of such a token keeps it literal: iPXE decides what a token is
// before expanding it, and an invalid setting name expands to nothing (core/settings.c).
const SPECIAL_TOKEN = /^(\|\||&&|;|#|-)/;

/** Makes untrusted text safe as trailing words of an iPXE command: one line, no separators, comments or options. */
export function ipxeWords(text: string): string {
  return text
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .split(' ')
    .filter((word) => word !== '')
    .map((word) => (SPECIAL_TOKEN.test(word) ? `\${}${word}` : word))
    .join(' ')
    // iPXE joins a line ending in a backslash with the next one (image/script.c); "${}" ends it instead.
    .replace(/\\$/, '\\${}');
}

/** Percent-encodes each segment of a relative file path for use in an iPXE URL. */
export function urlPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/**
 * An absolute http(s) URL from images.yaml as one literal iPXE word: the URL parser percent-encodes spaces and
 * control characters (and drops tabs and newlines), and "$" becomes %24, so a "${...}" in it is never expanded.
 */
export function ipxeUrl(url: string): string {
  return new URL(url).href.replace(/[$\\\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * The iPXE command that switches the keyboard layout. In a build with KEYBOARD_MAP dynamic, storing the
 * setting runs its applicator (src/core/dynkeymap.c), which selects the layout at once; an iPXE without that
 * applicator (Debian's stock 2019 build, a build with a fixed layout) stores it as a plain string setting
 * (hci/commands/nvo_cmd.c gives an unknown setting the string type) and carries on: harmless. A layout the
 * binary does not link makes this `set` and every later one fail (the applicator runs on each store), which is
 * why names are checked against v2.0.0's list.
 */
export function setKeymapCommand(keymap: KeymapName): string {
  return `set keymap ${keymap}`;
}
