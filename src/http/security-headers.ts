// Headers sent with every HTTP response. The dashboard loads only its own /dashboard.js and /dashboard.css (no
// inline script or style, nothing from elsewhere), and the API answers with JSON it fetches from the same origin,
// so the policy allows exactly that; no other site may frame the page (clickjacking of the Ingest button), guess
// a type from content, or learn the page's address from a link.

/** Header name → value, the same for every response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Sets the security headers on a Node response, where both Fastify's replies and hijacked bodies take them from. */
export function setSecurityHeaders(response: { setHeader(name: string, value: string): unknown }): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
}
