// The client address: which proxies' `X-Forwarded-For` a service believes, and the walk express
// (proxy-addr) does for `req.ip`, also for requests express never sees (HTTP upgrades).
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/**
 * Which peers' `X-Forwarded-For` to believe when deciding the client address: `addresses` are IPs,
 * CIDRs or express's keywords `loopback`, `linklocal`, `uniquelocal`; believed for at most `hops`
 * proxies in a row, counted from the connection (all of them by default). An empty list believes no
 * forwarding header: the client is the peer of the connection.
 */
export interface TrustProxy {
  addresses: readonly string[];
  hops?: number;
}

/**
 * What every service behind the gateway believes: one hop, from a loopback or private peer (the
 * gateway, which replaces `X-Forwarded-For` with the one address it decided).
 */
export const GATEWAY_HOP: TrustProxy = { addresses: ['loopback', 'linklocal', 'uniquelocal'], hops: 1 };

/** The ranges behind express's (proxy-addr's) keywords. */
const ADDRESS_KEYWORDS: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const family = (address: string) => (isIP(address) === 4 ? 'ipv4' : 'ipv6');

/**
 * A test for addresses in a list of IPs, CIDRs and keywords (IPv4-mapped IPv6 addresses match their
 * IPv4 entries); throws on an entry that is none of them.
 */
export function addressMatcher(entries: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries.flatMap((e) => ADDRESS_KEYWORDS[e] ?? [e])) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const maxPrefix = isIP(address) === 4 ? 32 : 128;
    const valid =
      isIP(address) !== 0 &&
      rest.length === 0 &&
      (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix));
    if (!valid)
      throw new Error(
        `${entry} is not an IP address, a CIDR or one of ${Object.keys(ADDRESS_KEYWORDS).join(', ')}`,
      );
    if (prefix === undefined) list.addAddress(address, family(address));
    else list.addSubnet(address, Number(prefix), family(address));
  }
  return (address) => isIP(address) !== 0 && list.check(address, family(address));
}

/** express's `trust proxy` function: is the address `hop` proxies away from us one we believe? */
export function proxyTrust(setting: TrustProxy): (address: string, hop: number) => boolean {
  const trusted = addressMatcher(setting.addresses);
  const hops = setting.hops ?? Infinity;
  return (address, hop) => hop < hops && trusted(address);
}

/**
 * The walk express (proxy-addr) does for `req.ip`: from the connection's peer leftwards through
 * `X-Forwarded-For`, the first address not believed, else the leftmost.
 */
export function forwardedClient(
  req: IncomingMessage,
  trust: (address: string, hop: number) => boolean,
): string | undefined {
  const forwarded = String(req.headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((address) => address.trim())
    .filter(Boolean);
  const chain = [req.socket.remoteAddress ?? '', ...forwarded.reverse()];
  return chain.find((address, hop) => hop === chain.length - 1 || !trust(address, hop));
}
