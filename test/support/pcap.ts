/** One UDP datagram from a capture, with the addresses needed to tell clients from servers. */
export interface CapturedDatagram {
  /** 0-based index of the frame among the captured packets (counting every frame, not only UDP ones). */
  frame: number;
  sourceMac: string;
  destinationMac: string;
  sourceAddress: string;
  destinationAddress: string;
  sourcePort: number;
  destinationPort: number;
  payload: Uint8Array;
}

const LINKTYPE_ETHERNET = 1;
const ETHERTYPE_IPV4 = 0x0800;
const PROTOCOL_UDP = 17;

/** Reads the IPv4/UDP datagrams of a capture: pcapng (what current tcpdump and Wireshark write) or classic pcap, Ethernet frames. */
export function readPcapUdp(bytes: Uint8Array): CapturedDatagram[] {
  const frames = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false) === PCAPNG_SECTION_HEADER
    ? pcapngFrames(bytes)
    : classicPcapFrames(bytes);
  const datagrams: CapturedDatagram[] = [];
  frames.forEach((frame, index) => {
    const datagram = parseEthernetIpv4Udp(frame, index);
    if (datagram !== undefined) datagrams.push(datagram);
  });
  return datagrams;
}

const PCAPNG_SECTION_HEADER = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const PCAPNG_INTERFACE_DESCRIPTION = 1;
const PCAPNG_SIMPLE_PACKET = 3;
const PCAPNG_ENHANCED_PACKET = 6;

/** Frames of a pcapng file (IETF draft-ietf-opsawg-pcapng): section headers, interface descriptions, packet blocks. */
function pcapngFrames(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: Uint8Array[] = [];
  let littleEndian = true;
  let linkTypes: number[] = [];
  for (let at = 0; at + 12 <= bytes.length; ) {
    const type = view.getUint32(at, littleEndian);
    if (type === PCAPNG_SECTION_HEADER) {
      littleEndian = view.getUint32(at + 8, true) === PCAPNG_BYTE_ORDER_MAGIC;
      linkTypes = [];
    }
    const length = view.getUint32(at + 4, littleEndian);
    if (length < 12 || at + length > bytes.length) throw new Error(`pcapng block at byte ${at} is truncated`);
    if (type === PCAPNG_INTERFACE_DESCRIPTION) linkTypes.push(view.getUint16(at + 8, littleEndian));
    if (type === PCAPNG_ENHANCED_PACKET || type === PCAPNG_SIMPLE_PACKET) {
      const interfaceId = type === PCAPNG_ENHANCED_PACKET ? view.getUint32(at + 8, littleEndian) : 0;
      if (linkTypes[interfaceId] !== LINKTYPE_ETHERNET) throw new Error(`pcapng interface ${interfaceId} is not Ethernet`);
      const dataAt = type === PCAPNG_ENHANCED_PACKET ? at + 28 : at + 12;
      const capturedLength = type === PCAPNG_ENHANCED_PACKET ? view.getUint32(at + 20, littleEndian) : length - 16;
      frames.push(bytes.subarray(dataAt, dataAt + capturedLength));
    }
    at += length;
  }
  return frames;
}

/** Frames of a classic libpcap file (microsecond or nanosecond timestamps, either byte order). */
function classicPcapFrames(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const littleEndian = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  if (!littleEndian && magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error(`not a pcap or pcapng file (magic 0x${magic.toString(16)})`);
  const linkType = view.getUint32(20, littleEndian);
  if (linkType !== LINKTYPE_ETHERNET) throw new Error(`pcap link type ${linkType} is not Ethernet`);
  const frames: Uint8Array[] = [];
  for (let at = 24; at + 16 <= bytes.length; ) {
    const capturedLength = view.getUint32(at + 8, littleEndian);
    const start = at + 16;
    at = start + capturedLength;
    if (at > bytes.length) throw new Error(`pcap frame ${frames.length} is truncated`);
    frames.push(bytes.subarray(start, at));
  }
  return frames;
}

function parseEthernetIpv4Udp(frameBytes: Uint8Array, frame: number): CapturedDatagram | undefined {
  const view = new DataView(frameBytes.buffer, frameBytes.byteOffset, frameBytes.byteLength);
  if (frameBytes.length < 14 + 20 || view.getUint16(12) !== ETHERTYPE_IPV4) return undefined;
  const ip = 14;
  const headerLength = (view.getUint8(ip) & 0x0f) * 4;
  const totalLength = view.getUint16(ip + 2);
  if (view.getUint8(ip + 9) !== PROTOCOL_UDP) return undefined;
  const udp = ip + headerLength;
  const udpLength = view.getUint16(udp + 4);
  if (udp + udpLength > frameBytes.length || ip + totalLength > frameBytes.length) throw new Error(`pcap frame ${frame} has a truncated UDP datagram`);
  return {
    frame,
    sourceMac: mac(frameBytes.subarray(6, 12)),
    destinationMac: mac(frameBytes.subarray(0, 6)),
    sourceAddress: frameBytes.subarray(ip + 12, ip + 16).join('.'),
    destinationAddress: frameBytes.subarray(ip + 16, ip + 20).join('.'),
    sourcePort: view.getUint16(udp),
    destinationPort: view.getUint16(udp + 2),
    payload: frameBytes.slice(udp + 8, udp + udpLength),
  };
}

function mac(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(':');
}
