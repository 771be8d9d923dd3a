import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { Router } from 'express';
import { UPSTREAMS, upstreamFor, type Upstream, type UpstreamUrls } from '../routing/upstreams.ts';

interface OpenApiDocument {
  paths?: Record<string, unknown>;
  components?: {
    schemas?: Record<string, unknown>;
    headers?: Record<string, unknown>;
    securitySchemes?: Record<string, unknown>;
  };
}

const swaggerUiDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Trellis API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script></body>
</html>`;

const INIT_SCRIPT = `window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#swagger-ui' });`;

/** Only the paths an upstream is routed for make it into the merged document. */
function ownPaths(upstream: Upstream, paths: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(paths).filter(([path]) => upstreamFor(path) === upstream));
}

/**
 * `/api/openapi.json`: the services' own documents (generated from their zod schemas), merged
 * and cached briefly; an unreachable service is listed under `x-unavailable` instead of failing
 * the whole document. `/api/docs`: Swagger UI, served from the swagger-ui-dist package.
 */
export function apiDocs(upstreams: UpstreamUrls, timeoutMs: number, cacheMs = 30_000): Router {
  const router = Router();
  let cached: { at: number; document: unknown } | undefined;

  async function merged(): Promise<unknown> {
    if (cached && Date.now() - cached.at < cacheMs) return cached.document;
    const paths: Record<string, unknown> = {};
    const schemas: Record<string, unknown> = {};
    const headers: Record<string, unknown> = {};
    const unavailable: Upstream[] = [];
    await Promise.all(
      UPSTREAMS.map(async (upstream) => {
        try {
          const response = await fetch(`${upstreams[upstream]}/openapi.json`, {
            signal: AbortSignal.timeout(timeoutMs),
          });
          if (!response.ok) throw new Error(String(response.status));
          const document = (await response.json()) as OpenApiDocument;
          Object.assign(paths, ownPaths(upstream, document.paths ?? {}));
          Object.assign(schemas, document.components?.schemas ?? {});
          Object.assign(headers, document.components?.headers ?? {});
        } catch {
          unavailable.push(upstream);
        }
      }),
    );
    const document = {
      openapi: '3.1.0',
      info: { title: 'Trellis API', version: '1' },
      servers: [{ url: '/' }],
      paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
      components: {
        schemas,
        headers,
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
      ...(unavailable.length ? { 'x-unavailable': unavailable.sort() } : {}),
    };
    if (!unavailable.length) cached = { at: Date.now(), document };
    return document;
  }

  router.get('/api/openapi.json', async (_req, res) => {
    res.json(await merged());
  });
  router.get('/api/docs', (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  router.get('/api/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(INIT_SCRIPT);
  });
  router.use('/api/docs/assets', express.static(swaggerUiDir, { index: false, maxAge: '1h' }));
  return router;
}
