import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type { LookupFunction } from 'node:net';

/** Where webhooks may point (api.md §10); the local stack and tests allow both. */
export interface TargetPolicy {
  allowHttp: boolean;
  allowPrivateNetworks: boolean;
}

/**
 * Addresses a webhook must not reach unless the deployment allows private networks: loopback,
 * private, shared, link-local (cloud metadata at 169.254.169.254 and fd00:ec2::254), multicast and
 * reserved ranges, in both families.
 */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  PRIVATE.addSubnet(network, prefix, 'ipv6');

export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1] as string, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why a URL is refused as a webhook target, or null when it is acceptable. */
export async function refusal(url: string, policy: TargetPolicy): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute URL';
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && policy.allowHttp))
    return policy.allowHttp ? 'must use https or http' : 'must use https';
  if (parsed.username || parsed.password) return 'must not carry credentials';
  if (parsed.hash) return 'must not have a fragment';
  if (policy.allowPrivateNetworks) return null;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host))
    return isPrivateAddress(host) ? 'must not point at a private, loopback or link-local address' : null;
  if (host === 'localhost' || host.endsWith('.localhost')) return 'must not point at this host';
  try {
    const addresses = await lookup(host, { all: true });
    if (addresses.some((a) => isPrivateAddress(a.address)))
      return 'resolves to a private, loopback or link-local address';
  } catch {
    return 'does not resolve';
  }
  return null;
}

/**
 * The DNS lookup a delivery connects with: the same address check at connection time, so a name
 * that resolved to a public address when the webhook was saved cannot be pointed inside later.
 */
export function guardedLookup(policy: TargetPolicy): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { all: true, family: options.family as 0 | 4 | 6 | undefined })
      .then((addresses) => {
        const allowed = policy.allowPrivateNetworks
          ? addresses
          : addresses.filter((a) => !isPrivateAddress(a.address));
        const first = allowed[0];
        if (!first) {
          callback(
            Object.assign(new Error(`${hostname} resolves to no public address`), { code: 'EADDRBLOCKED' }),
            '',
            4,
          );
          return;
        }
        if (options.all) callback(null, allowed as never);
        else callback(null, first.address, first.family);
      })
      .catch((err: NodeJS.ErrnoException) => callback(err, '', 4));
  };
}
