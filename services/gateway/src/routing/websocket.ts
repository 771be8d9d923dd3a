import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyMiddleware } from 'http-proxy-middleware';
import {
  AppError,
  bearerToken,
  cachedTokenVerifier,
  PROBLEM_CONTENT_TYPE,
  problemBody,
  requestIdFrom,
  type AuthUser,
  type KeyResolver,
  type Logger,
} from '@trellis/shared';
import { removeIdentityHeaders, verifyUnrevoked } from '../auth/gateway-auth.ts';
import { callerKey } from '../limits/limits.ts';
import type { CallOutcome, UpstreamBreakers } from './breakers.ts';
import { forwardClientAddress, timedOut504, unavailable } from './proxy.ts';
import type { Target, UpstreamPool } from './targets.ts';

export interface WebSocketGateOptions {
  /** notify's targets: each upgrade goes to the next one in rotation whose breaker admits it. */
  pool: UpstreamPool;
  resolveKey: KeyResolver;
  /** The revocation list: refused tokens, and news of each new revocation. */
  revocations: { isRevoked: (jti: string) => boolean; onRevoked: (listener: (jti: string) => void) => void };
  breakers: UpstreamBreakers;
  /** The client address by the gateway's `TRUSTED_PROXIES` (`GatewayApp.clientAddress`), forwarded to notify. */
  clientAddress: (req: IncomingMessage) => string | undefined;
  /** How long notify may take to answer the upgrade (the proxy timeout of HTTP calls). */
  timeoutMs: number;
  /** How long a revoked token's socket is left for notify to close with 4002 before it is cut (1 s). */
  revokedGraceMs?: number;
  logger: Logger;
}

function refuse(socket: Duplex, error: AppError, requestId: string): void {
  const headers = Object.entries(error.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`);
  const body = JSON.stringify(problemBody(error, requestId));
  socket.end(
    `HTTP/1.1 ${error.status} ${error.title}\r\n` +
      `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `${headers.join('')}X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** An upgrade on its way to notify: settles once notify has answered it (or failed to). */
interface Pending {
  requestId: string;
  target: Target;
  settle: (outcome: CallOutcome) => void;
  timedOut: boolean;
}

/**
 * Handles HTTP upgrades (which bypass express): only `/ws…` with a valid, unrevoked token
 * (`?access_token=` or `Authorization`) is proxied to notify, through notify's circuit breaker;
 * anything else is answered with an HTTP problem before any upgrade happens: 401/404, and, like
 * every proxied call (api.md §7), 503 `UPSTREAM_UNAVAILABLE` with `Retry-After` when notify is down
 * or its breaker is open, 504 `UPSTREAM_TIMEOUT` when it does not answer in time.
 *
 * A socket whose token is revoked later (logout, password reset) is closed by notify, which hears
 * of the revocation too, with 4002. The gateway relays frames without parsing them, so it cannot
 * write that close frame itself: it leaves notify `revokedGraceMs` to do so, then cuts whatever is
 * still open (the client sees the connection drop). A reconnect with that token is refused with 401.
 */
export function webSocketGate(options: WebSocketGateOptions) {
  const { breakers, logger } = options;
  const pending = new WeakMap<IncomingMessage, Pending>();
  /** Open (and opening) sockets by the jti of the token they were opened with. */
  const socketsByJti = new Map<string, Set<Duplex>>();

  const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
    router: (req) => pending.get(req)?.target.proxy ?? '',
    changeOrigin: true,
    ws: true,
    on: {
      proxyReqWs: (proxyReq: ClientRequest, req: IncomingMessage, socket: Duplex) => {
        const upgrade = pending.get(req);
        if (!upgrade) return;
        proxyReq.setTimeout(options.timeoutMs, () => {
          upgrade.timedOut = true;
          proxyReq.destroy(new Error('upstream timeout'));
        });
        proxyReq.once('upgrade', (_res: IncomingMessage, upstream: Duplex) => {
          // The relay ends notify's side when the client's ends cleanly, not when it is destroyed.
          socket.once('close', () => upstream.destroy());
          upgrade.settle({ kind: 'answered', status: 101 });
        });
        // No upgrade: notify answered plainly (its own 401, say), which is relayed as it is.
        proxyReq.once('response', (res: IncomingMessage) =>
          upgrade.settle({ kind: 'answered', status: res.statusCode ?? 502 }),
        );
      },
      error: (err, req, target) => {
        const upgrade = pending.get(req);
        logger.warn({ err, upstream: 'notify', requestId: upgrade?.requestId }, 'websocket proxy error');
        if (!upgrade) return;
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ECONNREFUSED') options.pool.eject(upgrade.target, 'connection refused');
        upgrade.settle(upgrade.timedOut ? { kind: 'timedOut' } : { kind: 'failed', code });
        // Nothing was relayed yet (an error after the upgrade finds no pending entry).
        const problem = upgrade.timedOut
          ? timedOut504('notify')
          : unavailable('notify', breakers.retryAfterSeconds);
        refuse(target as Duplex, problem, upgrade.requestId);
      },
    },
  });

  const track = (jti: string, socket: Duplex) => {
    const sockets = socketsByJti.get(jti) ?? new Set<Duplex>();
    socketsByJti.set(jti, sockets.add(socket));
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && socketsByJti.get(jti) === sockets) socketsByJti.delete(jti);
    });
  };
  options.revocations.onRevoked((jti) => {
    const sockets = socketsByJti.get(jti);
    if (!sockets) return;
    setTimeout(() => {
      for (const socket of sockets) socket.destroy();
    }, options.revokedGraceMs ?? 1_000).unref();
  });

  const check = { verify: cachedTokenVerifier(options.resolveKey), isRevoked: options.revocations.isRevoked };
  const handle = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== '/ws' && !url.pathname.startsWith('/ws/')) {
      refuse(socket, new AppError(404, 'NOT_FOUND', { detail: 'No WebSocket endpoint here.' }), requestId);
      return;
    }
    const token = url.searchParams.get('access_token') ?? bearerToken(req.headers.authorization);
    let user: AuthUser;
    try {
      user = await verifyUnrevoked(token ?? undefined, check);
    } catch (err) {
      refuse(socket, err instanceof AppError ? err : new AppError(401, 'UNAUTHENTICATED'), requestId);
      return;
    }
    removeIdentityHeaders(req.headers);
    forwardClientAddress(req.headers, options.clientAddress(req));
    req.headers['x-request-id'] = requestId;
    track(user.jti, socket);
    const target = options.pool.pick('notify', new Set(), (t) => breakers.admits('notify', t.name));
    if (!target) {
      refuse(socket, unavailable('notify', breakers.retryAfterSeconds), requestId);
      return;
    }
    const admitted = await breakers.run(
      'notify',
      callerKey({ user }),
      () =>
        new Promise<CallOutcome>((resolve) => {
          const settle = (outcome: CallOutcome) => {
            pending.delete(req);
            resolve(outcome);
          };
          pending.set(req, { requestId, target, settle, timedOut: false });
          proxy.upgrade(req, socket as never, head);
        }),
      target.name,
    );
    if (!admitted) refuse(socket, unavailable('notify', breakers.retryAfterSeconds), requestId);
  };
  /**
   * Cuts every relayed socket, for a stopping gateway: open sockets would keep its server from
   * closing. The gateway relays frames without parsing them, so it cannot write a close frame in
   * between: clients see the connection drop (1006), reconnect (to another gateway replica) and
   * resume from their last seq (api.md §9).
   */
  const closeAll = async () => {
    for (const sockets of socketsByJti.values()) for (const socket of sockets) socket.destroy();
  };
  return Object.assign(handle, { closeAll });
}
