// Runs inside a test network namespace (started with `ip netns exec NS node …` by dhcp-netns.test.ts):
//   serve <json>   runs the ProxyDHCP service on the real ports 67 and 4011 and prints its log lines on stdout;
//   listen <port>  prints one JSON line for every DHCP packet that arrives on 0.0.0.0:<port>.
import { createSocket } from 'node:dgram';
import { pino } from 'pino';
import { decodeDhcpPacket } from '../../src/dhcp/codec.ts';
import { createProxyDhcpService } from '../../src/dhcp/service.ts';

/** What `serve` takes as its JSON argument. */
interface ServeArguments {
  /** The service's own address (the socket replies leave from). */
  address: string;
  /** The address put in siaddr and option 54. */
  serverAddress: string;
  binaries: string[];
  customBuild: boolean;
}

const [mode, argument] = process.argv.slice(2);
if (mode === 'serve') {
  const options = JSON.parse(argument ?? '{}') as ServeArguments;
  const service = await createProxyDhcpService({
    address: options.address,
    dhcpPort: 67,
    pxePort: 4011,
    log: pino({ level: 'debug' }),
    policy: () => ({
      serverAddress: options.serverAddress,
      httpPort: 8080,
      bootScriptUrl: `http://${options.serverAddress}:8080/boot.ipxe`,
      binaries: new Set(options.binaries),
      customBuild: options.customBuild,
    }),
  });
  process.once('SIGTERM', () => void service.close().then(() => process.exit(0)));
} else if (mode === 'listen') {
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  socket.on('message', (bytes, remote) => {
    const packet = decodeDhcpPacket(bytes);
    process.stdout.write(`${JSON.stringify({ from: `${remote.address}:${remote.port}`, xid: packet.xid, siaddr: packet.siaddr, file: packet.file })}\n`);
  });
  socket.bind(Number(argument), '0.0.0.0', () => process.stdout.write(`${JSON.stringify({ listening: true })}\n`));
  process.once('SIGTERM', () => socket.close(() => process.exit(0)));
} else {
  process.stderr.write('usage: dhcp-netns-helper.ts serve <json> | listen <port>\n');
  process.exit(2);
}
