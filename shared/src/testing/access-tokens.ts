import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import jwt from 'jsonwebtoken';
import { ACCESS_TOKEN, type KeyResolver } from '../auth/access-token.ts';
import { closeServer, listen } from '../lifecycle/shutdown.ts';

/**
 * A signing key like identity's, so a service's tests mint access tokens it verifies as real
 * ones (and forge bad ones) without running identity. `sign` takes the claims to set or override.
 */
export function testSigner(kid = 'test-key') {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const resolveKey: KeyResolver = async (k) => (k === kid ? publicKey : undefined);
  const sign = (
    claims: Record<string, unknown> = {},
    options: jwt.SignOptions = {},
    key: KeyObject = privateKey,
  ) =>
    jwt.sign({ sub: randomUUID(), email: 'ada@example.com', jti: randomUUID(), ...claims }, key, {
      algorithm: ACCESS_TOKEN.algorithm,
      keyid: kid,
      issuer: ACCESS_TOKEN.issuer,
      audience: ACCESS_TOKEN.audience,
      expiresIn: ACCESS_TOKEN.ttlSeconds,
      ...options,
    });
  return { privateKey, publicKey, resolveKey, sign, kid };
}

/** A port nothing listens on: bind, read the port, close. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server, 0, '127.0.0.1');
  await closeServer(server);
  return port;
}

export async function stopServers(servers: Server[]): Promise<void> {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((server) => closeServer(server)));
}
