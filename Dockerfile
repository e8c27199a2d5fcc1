# syntax=docker/dockerfile:1
# Steward: build once (server compiled to dist/, sidebar built by Vite), run lean (production dependencies only).
#   docker build -t steward .
#   docker run --env-file steward.env -p 3000:3000 steward
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json manifest.json ./
COPY shared ./shared
COPY server/src ./server/src
COPY server/bench/benchArgs.ts ./server/bench/benchArgs.ts
COPY zendesk-app ./zendesk-app
COPY translations ./translations
COPY scripts ./scripts
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production STEWARD_MODE=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER node
EXPOSE 3000
# /readyz answers within 1 s and is red while the database is unreachable.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "--enable-source-maps", "dist/server/src/main.js"]
