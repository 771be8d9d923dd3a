import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyMiddleware } from 'http-proxy-middleware';
import {
  AppError,
  bearerToken,
  cachedTokenVerifier,
  PROBLEM_CONTENT_TYPE,
  problemBody,
  requestIdFrom,
  type KeyResolver,
  type Logger,
} from '@trellis/shared';
import { removeIdentityHeaders, verifyUnrevoked } from '../auth/gateway-auth.ts';

export interface WebSocketGateOptions {
  notifyUrl: string;
  resolveKey: KeyResolver;
  isRevoked: (jti: string) => boolean;
  logger: Logger;
}

function refuse(socket: Duplex, error: AppError, requestId: string): void {
  const body = JSON.stringify(problemBody(error, requestId));
  socket.end(
    `HTTP/1.1 ${error.status} ${error.title}\r\n` +
      `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Handles HTTP upgrades (which bypass express): only `/ws…` with a valid, unrevoked token
 * (`?access_token=` or `Authorization`) is proxied to notify; anything else is answered with an
 * HTTP error before any upgrade happens.
 */
export function webSocketGate(options: WebSocketGateOptions) {
  const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: options.notifyUrl,
    changeOrigin: true,
    ws: true,
    on: { error: (err) => options.logger.warn({ err }, 'websocket proxy error') },
  });
  const check = { verify: cachedTokenVerifier(options.resolveKey), isRevoked: options.isRevoked };
  return async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== '/ws' && !url.pathname.startsWith('/ws/')) {
      refuse(socket, new AppError(404, 'NOT_FOUND', { detail: 'No WebSocket endpoint here.' }), requestId);
      return;
    }
    const token = url.searchParams.get('access_token') ?? bearerToken(req.headers.authorization);
    try {
      await verifyUnrevoked(token ?? undefined, check);
    } catch (err) {
      refuse(socket, err instanceof AppError ? err : new AppError(401, 'UNAUTHENTICATED'), requestId);
      return;
    }
    removeIdentityHeaders(req.headers);
    req.headers['x-request-id'] = requestId;
    proxy.upgrade(req, socket as never, head);
  };
}
