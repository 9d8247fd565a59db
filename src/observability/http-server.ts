// /metrics (Prometheus), /healthz (the process answers), /readyz (RUNNING and making progress; 503
// with the reason otherwise), and
// /customers/:id/risk: the customer's current risk (its last published risk event's score and band, the
// record the compacted current-risk topic holds for it): what a campaign tool asks between events;
// behind a bearer token when one is configured; an id that no event could carry is a 400, never a 414.
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { CurrentRiskRecord } from '../events/wire-types.js';

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** The lifecycle state and whether the engine is ready; `reason` says why not (e.g. stalled). */
  readonly lifecycle: () => { state: string; ready: boolean; reason?: string };
  /** The latest risk event emitted for a customer, from the state store; null when none. */
  readonly customerRisk?: (customerId: string) => Promise<CustomerRisk | null>;
  /** Longest customer id (characters) the lookup accepts: validation.maxIdLength, the longest an event can carry. */
  readonly maxIdLength?: number;
  /** When set, the customer lookup answers only `Authorization: Bearer <token>` (401 otherwise). */
  readonly bearerToken?: string;
}

/** Control characters (and DEL) never belong in an id; they mostly come from a broken client or a probe. */
const MALFORMED_ID = /[\u0000-\u001f\u007f]/;

/** The current-risk view: the same record the compacted current-risk topic holds for the customer. */
export type CustomerRisk = CurrentRiskRecord;

export async function startHttpServer(options: HttpServerOptions): Promise<{ server: FastifyInstance; url: string; close(): Promise<void> }> {
  const maxIdLength = options.maxIdLength ?? 256;
  // Fastify answers 414 above maxParamLength (default 100). Node refuses a request head above 16 KiB
  // (431) before routing, so with this limit every id that reaches the router reaches the route,
  // which says 400 and why.
  const server = Fastify({ logger: false, routerOptions: { maxParamLength: 65_536 } });
  server.get('/metrics', async (_req, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
  server.get('/healthz', async () => ({ status: 'ok', lifecycle: options.lifecycle().state }));
  server.get('/readyz', async (_req, reply) => {
    const l = options.lifecycle();
    reply.code(l.ready ? 200 : 503);
    return { ready: l.ready, lifecycle: l.state, ...(l.reason === undefined ? {} : { reason: l.reason }) };
  });
  const lookup = options.customerRisk;
  if (lookup) {
    const authorized = bearerCheck(options.bearerToken);
    server.get<{ Params: { id: string } }>('/customers/:id/risk', async (req, reply) => {
      if (!authorized(req)) {
        reply.code(401).header('www-authenticate', 'Bearer realm="churnflow"');
        return { error: 'a bearer token is required (Authorization: Bearer <token>)' };
      }
      const id = req.params.id;
      if (id.length === 0 || id.length > maxIdLength || MALFORMED_ID.test(id)) {
        reply.code(400);
        // The id is not echoed: it may be huge or hold control characters.
        return { error: id.length > maxIdLength ? `customer id longer than ${maxIdLength} characters (validation.maxIdLength)` : 'customer id is empty or holds control characters' };
      }
      const risk = await lookup(id);
      if (!risk) {
        reply.code(404);
        return { error: 'no risk event emitted for this customer', customer_id: req.params.id };
      }
      return risk;
    });
  }
  const url = await server.listen({ host: options.host, port: options.port });
  return { server, url, close: () => server.close() };
}

/**
 * A request check for an optional bearer token. Both sides are hashed first, so the comparison is
 * constant-time whatever the lengths and the token's length does not leak either.
 */
function bearerCheck(token: string | undefined): (req: FastifyRequest) => boolean {
  if (token === undefined) return () => true;
  const want = createHash('sha256').update(token).digest();
  return (req) => {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header) : null;
    if (!m) return false;
    return timingSafeEqual(createHash('sha256').update(m[1]!).digest(), want);
  };
}

