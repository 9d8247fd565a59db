// /metrics (Prometheus), /healthz (the process answers), /readyz (RUNNING and making progress; 503
// with the reason otherwise), and
// /customers/:id/risk: the customer's current risk (its last published risk event's score and band, the
// record the compacted current-risk topic holds for it): what a campaign tool asks between events.
import Fastify, { type FastifyInstance } from 'fastify';
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
}

/** The current-risk view: the same record the compacted current-risk topic holds for the customer. */
export type CustomerRisk = CurrentRiskRecord;

export async function startHttpServer(options: HttpServerOptions): Promise<{ server: FastifyInstance; url: string; close(): Promise<void> }> {
  const server = Fastify({ logger: false });
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
    server.get<{ Params: { id: string } }>('/customers/:id/risk', async (req, reply) => {
      const risk = await lookup(req.params.id);
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
