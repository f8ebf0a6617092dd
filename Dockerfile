# syntax=docker/dockerfile:1
# One image for every service; compose picks the service with the command `node services/<name>/src/main.ts`.
# Node 24 LTS runs the TypeScript sources directly by stripping their types (the code uses erasable syntax only), so
# there is no build step and no TypeScript loader in the image.

# --- dependencies: production only, native addons built here with the toolchain kept out of the final image
FROM node:24-bookworm-slim AS deps
WORKDIR /app
# onnxruntime-node's postinstall would fetch CUDA binaries; the CPU build ships in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip npm_config_onnxruntime_node_install=skip
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
COPY contracts/package.json contracts/
COPY services/kit/package.json services/kit/
COPY services/binance-sim/package.json services/binance-sim/
COPY services/ingestor/package.json services/ingestor/
COPY services/recorder/package.json services/recorder/
COPY services/embedder/package.json services/embedder/
COPY services/scheduler/package.json services/scheduler/
COPY services/gateway/package.json services/gateway/
COPY services/ml-runner/package.json services/ml-runner/
COPY services/ml-infer/package.json services/ml-infer/
COPY services/stack/package.json services/stack/
COPY services/provision/package.json services/provision/
# onnxruntime-node ships CPU binaries for every platform (about 290 MB): keep this image's own, Linux on its arch.
RUN npm ci --omit=dev --no-audit --no-fund \
 && ort=node_modules/onnxruntime-node/bin \
 && rm -rf $ort/napi-v*/darwin $ort/napi-v*/win32 \
 && find $ort/napi-v*/linux -mindepth 1 -maxdepth 1 ! -name "$(node -p process.arch)" -exec rm -rf {} + \
 && test -f $ort/napi-v*/linux/$(node -p process.arch)/onnxruntime_binding.node

# --- runtime: sources + production node_modules, non-root
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production LOG_FORMAT=json DATA_DIR=/app/.data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/package.json ./package.json
COPY contracts ./contracts
COPY services ./services
COPY nats.conf tsconfig.base.json ./
RUN mkdir -p /app/.data && chown -R node:node /app/.data
USER node
EXPOSE 8000
CMD ["node", "services/gateway/src/main.ts"]
