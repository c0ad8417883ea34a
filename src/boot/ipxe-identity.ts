// How bootstation's own iPXE build makes itself known: its embedded script sets it (src/ipxe) and the
// ProxyDHCP recognises it (src/dhcp), so neither layer imports the other for it.

/**
 * The user class (DHCP option 77) of bootstation's own iPXE build: its embedded script runs `set user-class`
 * before `dhcp`, and the ProxyDHCP then answers with the boot script instead of a binary, which would loop.
 */
export const BOOTSTATION_USER_CLASS = 'bootstation';
