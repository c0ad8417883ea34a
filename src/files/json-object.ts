// Reading back JSON files bootstation wrote itself (the manifests), where unreadable means absent.

/**
 * Parses the text of a JSON file bootstation wrote itself (a manifest) into an object whose fields the caller still
 * checks; text that is not JSON, or JSON that is not an object, is undefined: the file is treated as absent.
 */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}
