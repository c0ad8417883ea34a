// A port that could not be bound, told in one sentence that names the port, the service and the fix.
/** A listening socket that could not be opened, with one sentence that tells the user how to fix it. */
export class BindError extends Error {
  readonly code = 'BOOTSTATION_BIND_FAILED';
  readonly service: string;
  readonly port: number;
  override readonly cause: NodeJS.ErrnoException;

  constructor(service: string, protocol: 'udp' | 'tcp', address: string, port: number, cause: NodeJS.ErrnoException) {
    super(bindFailureSentence(service, protocol, address, port, cause));
    this.name = 'BindError';
    this.service = service;
    this.port = port;
    this.cause = cause;
  }
}

/** Explains a failed bind in one sentence: which port, which service, and the fix. */
export function bindFailureSentence(
  service: string,
  protocol: 'udp' | 'tcp',
  address: string,
  port: number,
  cause: NodeJS.ErrnoException,
): string {
  const where = `${protocol.toUpperCase()} port ${port} on ${address}`;
  switch (cause.code) {
    case 'EACCES':
      return `${service} cannot listen on ${where}: ports below 1024 need root or CAP_NET_BIND_SERVICE (run as root, grant the capability, or choose a port above 1023).`;
    case 'EADDRINUSE':
      return `${service} cannot listen on ${where}: another program already listens there (find it with \`ss -lunp 'sport = :${port}'\` or \`ss -ltnp 'sport = :${port}'\` and stop it, or choose another port).`;
    case 'EADDRNOTAVAIL':
      return `${service} cannot listen on ${where}: this machine has no such address (check server.address or --address).`;
    default:
      return `${service} cannot listen on ${where}: ${cause.code ?? 'error'} ${cause.message}.`;
  }
}
