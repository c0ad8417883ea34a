// What a request to a boot route is, decided once when it arrives: the route's role (fastify route config), the
// client of a script request, and the boot policy's verdict for a file; the route and the boot events read it.
import type { FastifyInstance } from 'fastify';
import { parseBootClient, type BootClient } from '../boot/client.ts';
import { decideBootFile, type BootArea, type BootFileVerdict, type BootRole, type IpxeFolder } from '../boot/policy.ts';
import type { BootstationConfig } from '../config/model.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the route serves to a booting client; a file route's role names its folder tree (see FILE_AREAS). */
    role?: BootRole;
  }
  interface FastifyRequest {
    /** Set on arrival for the routes with a role. */
    boot?: BootRequest;
  }
}

/** What a request to a boot route is to the booting client. */
export interface BootRequest {
  /** The request path without the query, still percent-encoded. */
  path: string;
  /** Undefined when the path is no boot fetch (an unknown or refused image id): nothing is reported then. */
  role?: BootRole;
  image?: string;
  /** From the query of /boot.ipxe and /menu.ipxe; empty for files. */
  client: BootClient;
  /** The boot policy's verdict, for the file routes. */
  file?: BootFileVerdict;
}

// The file routes' role names the folder tree their paths are in; the policy refines an image's file to kernel or initrd.
const FILE_AREAS: Partial<Record<BootRole, BootArea>> = { 'ipxe-binary': 'ipxe', 'image-file': 'images' };

/** Decides on arrival what each request to a route with a role is, and keeps it on the request (request.boot). */
export function addBootRequestHook(app: FastifyInstance, options: { config: () => Pick<BootstationConfig, 'images'>; ipxe: () => IpxeFolder }): void {
  app.decorateRequest('boot', undefined);
  app.addHook('onRequest', async (request) => {
    const role = request.routeOptions.config.role;
    if (!role) return;
    // Still percent-encoded, so that encoded slashes and dots are judged by the policy, not decoded away by the router.
    const path = (request.raw.url ?? '').split('?', 1)[0] ?? '';
    const area = FILE_AREAS[role];
    if (!area) {
      request.boot = { path, role, client: parseBootClient((request.query ?? {}) as Record<string, unknown>) };
      return;
    }
    // A file route is "<prefix>*": the policy gets the rest of the path.
    const prefix = (request.routeOptions.url ?? '').replace(/\*$/, '');
    const file = decideBootFile({ protocol: 'http', area, path: path.startsWith(prefix) ? path.slice(prefix.length) : '' }, options.config(), options.ipxe());
    request.boot = { path, role: file.role, image: file.image, client: {}, file };
  });
}
