import type { RequestHandler } from 'express';

/**
 * Whether this process is draining: it got SIGTERM and goes on serving for SHUTDOWN_DRAIN_MS while
 * its readiness answers 503, so whoever balances requests over the replicas (the gateway's health
 * checks, Kubernetes' endpoints) stops sending it new ones before it closes its port. One per
 * process, like the signal that starts it.
 */
let draining = false;

export function startDraining(): void {
  draining = true;
}

export function isDraining(): boolean {
  return draining;
}

/**
 * While draining, every answer asks its client to close the connection after it, so no caller
 * keeps a pooled connection to a replica about to go (a request on it would meet a reset).
 */
export function closeConnectionsWhileDraining(): RequestHandler {
  return (_req, res, next) => {
    if (draining) res.setHeader('Connection', 'close');
    next();
  };
}
