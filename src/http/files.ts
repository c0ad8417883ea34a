// Sends a boot file the policy allowed (HEAD, Range, validators), or a 404 with the refusal logged.
import type { Stats } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { openBootFile, type BootFileVerdict } from '../boot/policy.ts';
import type { PathRefusal } from '../files/safe-path.ts';
import { planFileResponse, type FileRequestHeaders } from './conditional.ts';
import { FileBodyError, writeFileBody } from './file-body.ts';

/**
 * Sends the file a boot policy verdict names, with HEAD, Range and validators; anything refused answers 404 and logs
 * a warning with the reason, an image id no image has answers "no such image".
 */
export async function sendBootFile(verdict: BootFileVerdict, rawPath: string, request: FastifyRequest, reply: FastifyReply, options: FileSendOptions = {}): Promise<FastifyReply> {
  const found = await openBootFile(verdict);
  if (found.ok) return sendStatted(found.path, found.stats, request, reply, options);
  if (found.reason === 'unknown-image') return reply.code(404).type('text/plain').send('no such image\n');
  return refuseFile(rawPath, found.reason, request, reply);
}

/** How file bodies are sent. */
export interface FileSendOptions {
  /** A download whose client takes no data for this long is cut; default DEFAULT_STALL_MS. */
  stallMs?: number;
}

/** Answers 404 for a file that is missing or refused; refusals are logged as warnings with the reason. */
export function refuseFile(rawPath: string, reason: PathRefusal, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = rawPath.slice(0, 256);
  if (reason === 'not-found') request.log.info({ path }, 'file not found');
  else request.log.warn({ path, reason }, 'refused file request');
  return reply.code(404).type('text/plain').send('not found\n');
}

/**
 * The Content-Type of a served file: iPXE scripts are text; EFI programs are application/efi (the type UEFI HTTP
 * Boot expects; OVMF otherwise falls back to the URL's extension); anything else is bytes.
 */
function contentTypeOf(path: string): string {
  if (path.endsWith('.ipxe')) return 'text/plain; charset=utf-8';
  if (path.toLowerCase().endsWith('.efi')) return 'application/efi';
  return 'application/octet-stream';
}

function sendStatted(path: string, stats: Stats, request: FastifyRequest, reply: FastifyReply, options: FileSendOptions): FastifyReply {
  const plan = planFileResponse(request.headers as FileRequestHeaders, { size: stats.size, mtimeMs: stats.mtimeMs });
  reply.code(plan.status).headers(plan.headers);
  if (plan.status === 304 || plan.status === 416) return reply.send();
  reply.type(contentTypeOf(path));
  if (request.method === 'HEAD' || plan.end < plan.start) return reply.send();
  // The body bypasses Fastify's stream piping (see file-body.ts); the onResponse hooks still run on 'finish'.
  reply.hijack();
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value);
  reply.raw.writeHead(plan.status);
  writeFileBody(path, plan.start, plan.end, reply.raw, options).catch((error: unknown) => {
    if (error instanceof FileBodyError && error.stalled) request.log.info({ path, client: request.ip }, `${error.message}; the download was cut`);
    else if (error instanceof FileBodyError && error.clientGone) request.log.debug({ path }, 'client closed the connection during a file download');
    else request.log.error({ err: error, path }, 'file download failed halfway; connection closed');
  });
  return reply;
}
