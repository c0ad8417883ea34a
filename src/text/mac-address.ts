// A MAC address as people and iPXE write it, and the one spelling bootstation compares them in: images.yaml's
// hosts and the mac= of /boot.ipxe?mac=… meet under it.

/** Six hexadecimal pairs with either separator, as people copy them from `ip link` (colons) or Windows (hyphens). */
export const MAC_ADDRESS = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i;

/** "52-54-00-AB-CD-EF" → "52:54:00:ab:cd:ef" (lower case, colons); the caller has checked it against MAC_ADDRESS. */
export function normalizeMacAddress(mac: string): string {
  return mac.toLowerCase().replaceAll('-', ':');
}
