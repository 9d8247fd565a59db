// /metrics (Prometheus), /healthz (the process answers), /readyz (the lifecycle says RUNNING).
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly lifecycle: () => { state: string; ready: boolean };
}

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
    return { ready: l.ready, lifecycle: l.state };
  });
  const url = await server.listen({ host: options.host, port: options.port });
  return { server, url, close: () => server.close() };
}
