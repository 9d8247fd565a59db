# syntax=docker/dockerfile:1
# churnflow engine image. At the repo root (not deploy/docker/) so that `docker build .` works with
# the default context and the root .dockerignore applies to it. Built and checked offline only:
# test/unit/deploy/dockerfile.test.ts (no container engine on the development machine).
#   docker build -t churnflow:0.1.0 .
#   docker run --rm -v $PWD/deploy/churnflow.yaml:/etc/churnflow/churnflow.yaml churnflow:0.1.0

# Debian slim, not Alpine: onnxruntime-node ships glibc binaries only.
ARG NODE_IMAGE=node:20-bookworm-slim

# ── build: compile TypeScript with the dev dependencies ───────────────────────────────
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
COPY patches ./patches
# --ignore-scripts: `prepare` (tsc) needs the sources, which are not copied yet; onnxruntime-node's
# postinstall only fetches CUDA libraries (package.json allowScripts denies it too) — the CPU build is in the package.
# So the first half of the package's prepare is run by hand: patch-package applies patches/ (kafkajs' producer
# path without its quadratic grouping and per-record allocations, docs/architecture.md "Runtime dependencies").
RUN npm ci --ignore-scripts && npx patch-package --error-on-fail
COPY tsconfig.json ./
COPY src ./src
COPY topologies ./topologies
RUN npm run build

# ── runtime: production dependencies and the compiled engine only ─────────────────────
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    CHURNFLOW_HTTP_HOST=0.0.0.0 \
    CHURNFLOW_HTTP_PORT=9464
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --omit=dev: no TypeScript, no test tools; --ignore-scripts: `prepare` would run tsc (absent here),
# and onnxruntime-node's CPU runtime needs no install script (bin/napi-v6/linux/<arch> is in the package).
# onnxruntime-node carries macOS and Windows builds too (≈220 MB of its 288 MB): not needed here.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32
# kafkajs as patched in the build stage (patch-package is a dev dependency, absent here).
COPY --from=build /src/node_modules/kafkajs ./node_modules/kafkajs
# What package.json "files" publishes: the CLI, compiled sources, the Lua script, schemas, model bundles.
COPY bin ./bin
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/topologies ./dist/topologies
COPY src/state/lua ./src/state/lua
COPY schemas ./schemas
COPY models ./models
COPY deploy/churnflow.yaml /etc/churnflow/churnflow.yaml
# The official image's unprivileged user (uid 1000); the app files stay root-owned and read-only to it.
USER node
EXPOSE 9464
# The slim image has no curl: Node's own fetch asks /healthz (the process answers; /readyz is for orchestrators).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.CHURNFLOW_HTTP_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node","bin/churnflow.js"]
CMD ["run","--config","/etc/churnflow/churnflow.yaml"]
