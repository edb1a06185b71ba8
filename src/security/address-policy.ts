import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ChorusError } from '../errors.js';

/**
 * Which addresses a user-supplied URL (prompt audio, webhooks) may reach. Without `allowPrivate`
 * only public unicast addresses pass: loopback, private, link-local (cloud metadata), CGNAT,
 * unique-local, documentation, multicast and reserved ranges are refused.
 */

/** IPv4 ranges that are not public: [first octets as a number, prefix length]. */
const V4_BLOCKED: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

const V4_BLOCKED_PARSED = V4_BLOCKED.map(([base, bits]) => ({ base: parseV4(base)!, bits }));

/** True when `ip` (IPv4 or IPv6 text) is a public unicast address; false for anything else, non-IPs included. */
export function isPublicAddress(ip: string): boolean {
  const address = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const version = isIP(address.split('%')[0]!);
  if (version === 4) return isPublicV4(parseV4(address)!);
  if (version === 6) {
    const groups = parseV6(address.split('%')[0]!);
    return groups !== undefined && isPublicV6(groups);
  }
  return false;
}

function isPublicV4(value: number): boolean {
  return !V4_BLOCKED_PARSED.some(({ base, bits }) => (bits === 0 ? true : value >>> (32 - bits) === base >>> (32 - bits)));
}

function isPublicV6(g: readonly number[]): boolean {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  const embeddedV4 = ((g6 << 16) | g7) >>> 0;
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return false; // :: unspecified
  if (zeroTo(7) && g7 === 1) return false; // ::1 loopback
  if (zeroTo(5) && g5 === 0xffff) return isPublicV4(embeddedV4); // ::ffff:a.b.c.d (IPv4-mapped)
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return isPublicV4(embeddedV4); // ::ffff:0:a.b.c.d (IPv4-translated)
  if (zeroTo(6)) return false; // ::a.b.c.d (IPv4-compatible, deprecated)
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return isPublicV4(embeddedV4); // NAT64
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return false; // local-use NAT64 64:ff9b:1::/48
  if (g0 === 0x2002) return isPublicV4(((g1 << 16) | g2) >>> 0); // 6to4 embeds the IPv4 address
  if (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) return false; // 100::/64 discard
  if (g0 === 0x2001 && g1 === 0x0db8) return false; // documentation 2001:db8::/32
  if (g0 === 0x2001 && g1 < 0x0200) return false; // 2001::/23 IETF protocol assignments (Teredo, ORCHID, …)
  if ((g0 & 0xfe00) === 0xfc00) return false; // fc00::/7 unique local
  if ((g0 & 0xffc0) === 0xfe80) return false; // fe80::/10 link-local
  if ((g0 & 0xffc0) === 0xfec0) return false; // fec0::/10 site-local (deprecated)
  if ((g0 & 0xff00) === 0xff00) return false; // ff00::/8 multicast
  return (g0 & 0xe000) === 0x2000; // only global unicast 2000::/3 is public
}

function parseV4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value >>> 0;
}

/** Eight 16-bit groups, or undefined when the text is not IPv6. Accepts `::` and a dotted IPv4 tail. */
function parseV6(text: string): number[] | undefined {
  let body = text.toLowerCase();
  const tail: number[] = [];
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(body.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail.push(v4 >>> 16, v4 & 0xffff);
    // Keep a '::' that ends right before the IPv4 part; drop a single separating ':'.
    body = body.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const readGroups = (part: string | undefined): number[] | undefined => {
    if (part === undefined || part === '') return [];
    const groups = part.split(':');
    if (groups.some((group) => !/^[0-9a-f]{1,4}$/.test(group))) return undefined;
    return groups.map((group) => parseInt(group, 16));
  };
  const head = readGroups(halves[0]);
  const rest = halves.length === 2 ? readGroups(halves[1]) : [];
  if (head === undefined || rest === undefined) return undefined;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return undefined;
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
}

export interface UrlPolicyOptions {
  /** Let private, loopback and link-local addresses (and plain http) through: for tests and closed networks. */
  readonly allowPrivate: boolean;
  /** The request field the URL came from, named in errors (`prompt_speech_url`, `webhook`). */
  readonly param?: string;
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/**
 * Checks a URL's scheme (https; http only with `allowPrivate`) and every address its host resolves
 * to. Returns the checked addresses so the caller can connect to exactly those (no DNS rebinding).
 */
export async function resolvePublicUrl(url: string | URL, options: UrlPolicyOptions): Promise<ResolvedAddress[]> {
  const param = options.param ?? 'url';
  const fail = (message: string) => new ChorusError({ code: 'invalid_request', param, message: `'${param}' ${message}` });
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    throw fail(`is not a valid URL.`);
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && options.allowPrivate)) {
    throw fail(`must be an https:// URL, got ${parsed.protocol}// (plain http is allowed only with CHORUS_ALLOW_PRIVATE_URLS=true).`);
  }
  if (parsed.username !== '' || parsed.password !== '') throw fail('must not carry a user name or password.');
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  let addresses: ResolvedAddress[];
  try {
    addresses = (await lookup(host, { all: true, verbatim: true })).map((entry) => ({ address: entry.address, family: entry.family === 6 ? 6 : 4 }));
  } catch (error) {
    throw fail(`names a host that does not resolve (${host}: ${(error as NodeJS.ErrnoException).code ?? String(error)}).`);
  }
  if (addresses.length === 0) throw fail(`names a host that does not resolve (${host}).`);
  if (!options.allowPrivate) {
    const refused = addresses.find((entry) => !isPublicAddress(entry.address));
    if (refused !== undefined) {
      throw fail(`points to a private, loopback or otherwise non-public address (${host} → ${refused.address}); only public addresses are allowed.`);
    }
  }
  return addresses;
}

/** Throws a ChorusError naming the field unless the URL is https (or allowed http) to public addresses only. */
export async function assertPublicUrl(url: string, options: UrlPolicyOptions): Promise<void> {
  await resolvePublicUrl(url, options);
}
