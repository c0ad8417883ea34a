import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { openSafeFile, splitUrlPath, type PathRefusal } from '../files/safe-path.ts';
import { planFileResponse, type FileRequestHeaders } from './conditional.ts';
import { FileBodyError, writeFileBody } from './file-body.ts';

/**
 * Sends one file from root, named by a raw (still percent-encoded) URL path relative to root.
 * Anything that could escape root answers 404 and logs a warning with the reason.
 */
export async function sendFileFrom(root: string, rawRelativePath: string, request: FastifyRequest, reply: FastifyReply, options: FileSendOptions = {}): Promise<FastifyReply> {
  const split = splitUrlPath(rawRelativePath);
  const found = split.ok ? await openSafeFile(root, split.segments) : split;
  if (!found.ok) return refuseFile(rawRelativePath, found.reason, request, reply);
  return sendStatted(found.path, found.stats, request, reply, options);
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

/** Sends a file at a trusted path (not derived from the request), with HEAD, Range and validators. */
export async function sendFile(path: string, request: FastifyRequest, reply: FastifyReply, options: FileSendOptions = {}): Promise<FastifyReply> {
  const stats = await stat(path).catch(() => undefined);
  if (!stats?.isFile()) return reply.code(404).type('text/plain').send('not found\n');
  return sendStatted(path, stats, request, reply, options);
}

function sendStatted(path: string, stats: Stats, request: FastifyRequest, reply: FastifyReply, options: FileSendOptions): FastifyReply {
  const plan = planFileResponse(request.headers as FileRequestHeaders, { size: stats.size, mtimeMs: stats.mtimeMs });
  reply.code(plan.status).headers(plan.headers);
  if (plan.status === 304 || plan.status === 416) return reply.send();
  reply.type(path.endsWith('.ipxe') ? 'text/plain; charset=utf-8' : 'application/octet-stream');
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
