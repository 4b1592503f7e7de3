# syntax=docker/dockerfile:1
# llm-sidecar images (see deploy/README.md). Not built in this repository's CI: no Docker engine there.
#
#   docker build -t llm-sidecar:0.1.0 .                      # production image (target "runtime", the default)
#   docker build -t llm-sidecar:dev-tools --target dev .     # everything: tests, fake provider, SDKs, embedded ClickHouse
#
# One image runs every command: `proxy` (default), `evaluator`, `migrate`, `report`.
# There is no build step: bin/llm-sidecar runs the TypeScript sources through tsx.

# The Active LTS line (Node.js 26 since October 2026); CI also runs the suite on 24 (Maintenance LTS).
ARG NODE_IMAGE=node:26-slim

# Native addons (hnswlib-node) compile with node-gyp during `npm ci`: the toolchain lives only here.
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# Full install (dev dependencies included): the demo profile's fake provider and traffic generator.
FROM toolchain AS dev
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# `demo` keeps its embedded store under ./.llm-sidecar: writable by the non-root user.
RUN mkdir -p /app/.llm-sidecar && chown 1000:1000 /app/.llm-sidecar
USER 1000:1000
ENTRYPOINT ["node", "bin/llm-sidecar"]
CMD ["demo"]

# Production dependencies only, without the embedded ClickHouse: the production image talks to a
# ClickHouse server (telemetry.clickhouse.url). chdb's JavaScript stays (it is a regular dependency
# and is only imported in embedded mode); its 500+ MB native library, @chdb/lib-<platform>, goes.
# Not `--omit=optional`: that would also drop esbuild's platform binary, which tsx needs at run time.
FROM toolchain AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/@chdb \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY cli ./cli
COPY proxy ./proxy
COPY shared ./shared
COPY evaluator ./evaluator
COPY dashboards ./dashboards
# The demo (`llm-sidecar demo`) runs the simulated provider in process.
COPY simulator ./simulator
# The spool (spans waiting for ClickHouse) defaults to ./.llm-sidecar/spool: writable by the
# non-root user; mount a volume there (Kubernetes: an emptyDir) to keep it across restarts.
RUN mkdir -p /app/.llm-sidecar/spool && chown -R 1000:1000 /app/.llm-sidecar
# Numeric, so Kubernetes' runAsNonRoot can verify it (uid 1000 is `node` in the base image).
USER 1000:1000
# 4000: LLM traffic (listen), 4001: /healthz, /readyz, /metrics (admin).
EXPOSE 4000 4001
ENTRYPOINT ["node", "bin/llm-sidecar"]
CMD ["proxy"]
