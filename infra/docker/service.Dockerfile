# syntax=docker/dockerfile:1
#
# Container image of one Trellis service. Build it from the repository root:
#   docker build -f services/<name>/Dockerfile -t trellis/<name> .
#
# One source, six copies: infra/docker/service.Dockerfile is the template and
# every services/<name>/Dockerfile is rendered from it by
#   node infra/docker/render-dockerfiles.ts
# filling in only the SERVICE and PORT defaults and the CMD
# (infra/test/deploy-manifests.test.ts fails if a copy drifts). Edit the
# template, never a copy. Copies rather than one file plus --build-arg because
# each service must build on its own with `docker build -f
# services/<name>/Dockerfile .`, a Dockerfile cannot include another, and an
# exec-form CMD does not expand build arguments.
#
# No build step: Node 24 runs the TypeScript sources directly (type
# stripping), so the image is production node_modules + shared/ + the service.

# ---- deps: production dependencies of this service and @trellis/shared only
FROM node:24-slim AS deps
ARG SERVICE
WORKDIR /app
# `npm ci` needs the lockfile and every workspace manifest, even for the
# workspaces it will not install. Keep this list in step with services/* and clients/*.
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY services/collab/package.json services/collab/
COPY services/gateway/package.json services/gateway/
COPY services/governance/package.json services/governance/
COPY services/identity/package.json services/identity/
COPY services/notify/package.json services/notify/
COPY services/work/package.json services/work/
COPY clients/typescript/package.json clients/typescript/
# npm creates a workspace's own node_modules only for packages it cannot
# hoist; the mkdir makes both exist so the runtime stage can always copy them.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --workspace "@trellis/${SERVICE}" --include-workspace-root=false \
      --no-audit --no-fund \
 && mkdir -p shared/node_modules "services/${SERVICE}/node_modules"

# ---- runtime
FROM node:24-slim AS runtime
ARG SERVICE
ARG PORT
# kafkajs 2.2.4 set a negative timer on Node 24 (kafkajs#1751), an idle loop that cost CPU; shared patches the loop (shared/README.md), and Node still silences only that warning.
# A young generation of at most 3 × 8 MiB, not sized from the node's memory (SERVICE_NODE_OPTIONS in infra/local/services.ts).
ENV NODE_ENV=production \
    NODE_OPTIONS="--disable-warning=TimeoutNegativeWarning --max-semi-space-size=8" \
    PORT=${PORT}
WORKDIR /app
# Files stay owned by root: the service user can read but not change its code.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/shared/node_modules ./shared/node_modules
COPY --from=deps /app/services/${SERVICE}/node_modules ./services/${SERVICE}/node_modules
COPY package.json ./
COPY shared/ ./shared/
COPY services/${SERVICE}/ ./services/${SERVICE}/
# The official node images ship the unprivileged user `node` (uid/gid 1000).
USER node
EXPOSE ${PORT}
# slim has no curl/wget; Node's own fetch does the probe. Liveness only:
# readiness (database + Kafka) is the orchestrator's business.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The service drains on SIGTERM (stop HTTP, consumers, flush outbox, close DB).
STOPSIGNAL SIGTERM
CMD ["node", "services/${SERVICE}/src/main.ts"]
