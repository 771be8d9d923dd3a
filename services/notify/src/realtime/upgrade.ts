import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  AppError,
  bearerToken,
  PROBLEM_CONTENT_TYPE,
  problemBody,
  requestIdFrom,
  verifyAccessToken,
  type AuthUser,
  type KeyResolver,
  type Logger,
  type RevocationCheck,
} from '@trellis/shared';
import type { WebSocket, WebSocketServer } from 'ws';
import { channelName, isUuid } from './channels.ts';

/**
 * The channels a WebSocket path subscribes on connect (api.md §9), or undefined for paths that are
 * not endpoints. `/ws/notifications` is the older inbox-only alias: every socket gets its inbox.
 */
export function channelsOfPath(pathname: string): string[] | undefined {
  if (pathname === '/ws' || pathname === '/ws/notifications') return [];
  const project = /^\/ws\/projects\/([^/]+)$/.exec(pathname)?.[1];
  return project !== undefined && isUuid(project) ? [channelName('project', project)] : undefined;
}

/** An HTTP error written to the raw socket before any upgrade (upgrades bypass express). */
function refuse(socket: Duplex, error: AppError, requestId: string): void {
  const body = JSON.stringify(problemBody(error, requestId));
  socket.end(
    `HTTP/1.1 ${error.status} ${error.title}\r\n` +
      `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export interface UpgradeDeps {
  wss: WebSocketServer;
  resolveKey: KeyResolver;
  isRevoked: RevocationCheck;
  logger: Logger;
  /** False once the replica is stopping: new sockets are refused with 503. */
  accepting: () => boolean;
  onConnection: (ws: WebSocket, user: AuthUser, authorization: string, channels: string[]) => void;
}

/**
 * The `server.on('upgrade')` handler: a known path and a valid, unrevoked access token
 * (`?access_token=` or `Authorization: Bearer`), verified like every service verifies it, or an
 * HTTP error before the upgrade. The gateway checks the same, but no service trusts the network.
 */
export function upgradeHandler(deps: UpgradeDeps) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // A client resetting the connection mid-handshake must not crash the process.
    const onSocketError = (err: Error) => deps.logger.debug({ err }, 'websocket handshake socket error');
    socket.on('error', onSocketError);
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const url = new URL(req.url ?? '/', 'http://notify');
    const channels = channelsOfPath(url.pathname);
    if (!channels) {
      return refuse(
        socket,
        new AppError(404, 'NOT_FOUND', { detail: 'No WebSocket endpoint here.' }),
        requestId,
      );
    }
    if (!deps.accepting()) {
      return refuse(
        socket,
        new AppError(503, 'UPSTREAM_UNAVAILABLE', { detail: 'Shutting down.' }),
        requestId,
      );
    }
    const token = url.searchParams.get('access_token') ?? bearerToken(req.headers.authorization);
    if (!token) {
      const error = new AppError(401, 'UNAUTHENTICATED', { detail: 'A bearer access token is required.' });
      return refuse(socket, error, requestId);
    }
    verifyAccessToken(token, deps.resolveKey).then(
      (user) => {
        if (deps.isRevoked(user.jti)) {
          const error = new AppError(401, 'UNAUTHENTICATED', {
            detail: 'The access token has been revoked.',
          });
          return refuse(socket, error, requestId);
        }
        deps.wss.handleUpgrade(req, socket, head, (ws) => {
          socket.off('error', onSocketError);
          deps.onConnection(ws, user, `Bearer ${token}`, channels);
        });
      },
      (err: unknown) => {
        refuse(socket, err instanceof AppError ? err : new AppError(401, 'UNAUTHENTICATED'), requestId);
      },
    );
  };
}
