// DHCP option codes and message types bootstation reads or writes, with their names for logs.
/** DHCP option codes bootstation reads or writes (RFC 2132, RFC 3004, RFC 4578, iPXE's 175). */
export const DhcpOption = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  hostName: 12,
  vendorSpecific: 43,
  requestedAddress: 50,
  leaseTime: 51,
  overload: 52,
  messageType: 53,
  serverIdentifier: 54,
  parameterRequestList: 55,
  maxMessageSize: 57,
  vendorClassIdentifier: 60,
  clientIdentifier: 61,
  tftpServerName: 66,
  bootFileName: 67,
  userClass: 77,
  clientSystemArchitecture: 93,
  clientNetworkInterface: 94,
  clientMachineIdentifier: 97,
  ipxeEncapsulated: 175,
  end: 255,
} as const;

const optionNames: ReadonlyMap<number, string> = new Map(
  Object.entries(DhcpOption).map(([name, code]) => [code, kebab(name)]),
);

/** Name of a DHCP option for logs and golden files, e.g. 60 → "vendor-class-identifier", unknown → "option-200". */
export function dhcpOptionName(code: number): string {
  return optionNames.get(code) ?? `option-${code}`;
}

/** DHCP message types, option 53 (RFC 2132 §9.6). */
export const DhcpMessageType = {
  discover: 1,
  offer: 2,
  request: 3,
  decline: 4,
  ack: 5,
  nak: 6,
  release: 7,
  inform: 8,
} as const;

/** A DHCP message type value. */
export type DhcpMessageTypeValue = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

const messageTypeNames: ReadonlyMap<number, string> = new Map(
  Object.entries(DhcpMessageType).map(([name, code]) => [code, `DHCP${name.toUpperCase()}`]),
);

/** Name of a DHCP message type for logs, e.g. 1 → "DHCPDISCOVER", unknown → "message-type-42". */
export function dhcpMessageTypeName(type: number): string {
  return messageTypeNames.get(type) ?? `message-type-${type}`;
}

/** BOOTP op field (RFC 951): requests come from clients, replies from servers. */
export const BootpOp = {
  request: 1,
  reply: 2,
} as const;

/** PXE sub-options carried inside option 43 (PXE 2.1 specification, table 2-1). */
export const PxeSubOption = {
  discoveryControl: 6,
  bootServers: 8,
  bootMenu: 9,
  menuPrompt: 10,
  bootItem: 71,
} as const;

/** Bits of PXE sub-option 6 (discovery control). 8 = "boot file name present: download it, skip boot server discovery". */
export const PxeDiscoveryControl = {
  disableBroadcast: 1,
  disableMulticast: 2,
  onlyBootServerList: 4,
  useBootFileDirectly: 8,
} as const;

/** iPXE's sub-options inside option 175 (iPXE include/ipxe/dhcp.h) that logs and golden files name. */
export const IpxeSubOption = {
  priority: 1,
  noPxeDhcp: 176,
  busId: 177,
  version: 235,
} as const;

const ipxeSubOptionNames: ReadonlyMap<number, string> = new Map(
  Object.entries(IpxeSubOption).map(([name, code]) => [code, kebab(name)]),
);

/** Name of an iPXE option-175 sub-option; iPXE announces each built-in feature (16–63, e.g. 19 = HTTP, 36 = EFI) as a one-byte flag. */
export function ipxeSubOptionName(code: number): string {
  const known = ipxeSubOptionNames.get(code);
  if (known !== undefined) return known;
  return code >= 16 && code < 64 ? `feature-${code}` : `suboption-${code}`;
}

function kebab(camel: string): string {
  return camel.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
