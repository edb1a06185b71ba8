import type { Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import makeMdns from 'multicast-dns';
import type { Answer, Question } from 'dns-packet';

/**
 * Announces the Wyoming server by multicast DNS, as wyoming-piper's `--zeroconf` does
 * (OHF-Voice/wyoming `zeroconf.py`): the service `<name>._wyoming._tcp.local` with this port and
 * the host's addresses, so Home Assistant offers to add it without being told the address.
 * Answers queries for the service, its instance and its host name; announces at start (twice,
 * RFC 6762 §8.3) and says goodbye (TTL 0) when closed.
 */

export const WYOMING_SERVICE = '_wyoming._tcp.local';
const SERVICE_ENUMERATION = '_services._dns-sd._udp.local';
const MDNS_PORT = 5353;
/** RFC 6762 §10: host records 120 s, other records 75 minutes. */
const HOST_TTL = 120;
const OTHER_TTL = 4500;
const REANNOUNCE_MS = 1000;

export interface ZeroconfOptions {
  /** The instance name Home Assistant shows (a DNS label: no dots). */
  readonly name: string;
  /** The Wyoming server's TCP port. */
  readonly port: number;
  /** IPv4 addresses the server is reachable on. */
  readonly addresses: readonly string[];
  /**
   * Where to listen and announce instead of the mDNS group on every interface: a bound UDP socket
   * and the address announcements go to. Tests use a loopback socket, so nothing is multicast.
   */
  readonly transport?: { readonly socket: Socket; readonly group: { readonly address: string; readonly port: number } };
  /** Socket failures (port 5353 taken without address reuse, no multicast route): announcing stops, the server goes on. */
  readonly onError?: (error: Error) => void;
}

export interface ZeroconfAdvertisement {
  /** `<name>._wyoming._tcp.local` */
  readonly instance: string;
  /** Sends the goodbye, then stops answering. */
  close(): Promise<void>;
}

/** The addresses to announce for a Wyoming server bound to `host`: itself, or every external IPv4 address for 0.0.0.0 / ::. */
export function zeroconfAddresses(host: string): string[] {
  if (host === '0.0.0.0' || host === '::') {
    return Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .filter((entry) => entry.family === 'IPv4' && !entry.internal)
      .map((entry) => entry.address);
  }
  return isIP(host) === 4 && !host.startsWith('127.') ? [host] : [];
}

export async function advertiseWyoming(options: ZeroconfOptions): Promise<ZeroconfAdvertisement> {
  const instance = `${options.name}.${WYOMING_SERVICE}`;
  // As python-zeroconf does for wyoming (no `server` given), the instance name is also the host name
  // the addresses are published under, so Chorus never claims a name another machine might own.
  const host = instance;
  const transport = options.transport;
  const mdns = transport
    ? makeMdns({ socket: transport.socket, bind: false, multicast: false, ip: transport.group.address, port: transport.group.port })
    : makeMdns({ reuseAddr: true });
  // Undecodable packets from other hosts are theirs to worry about.
  mdns.on('warning', () => {});
  mdns.on('error', (error: Error) => options.onError?.(error));

  // A goodbye is the same records with TTL 0 (RFC 6762 §10.1).
  const records = (goodbye = false): { pointer: Answer[]; unique: Answer[]; hosts: Answer[] } => {
    const hostTtl = goodbye ? 0 : HOST_TTL;
    const otherTtl = goodbye ? 0 : OTHER_TTL;
    return {
      pointer: [{ name: WYOMING_SERVICE, type: 'PTR', ttl: otherTtl, data: instance }],
      unique: [
        { name: instance, type: 'SRV', ttl: hostTtl, flush: true, data: { priority: 0, weight: 0, port: options.port, target: host } },
        { name: instance, type: 'TXT', ttl: otherTtl, flush: true, data: [] },
      ],
      hosts: options.addresses.map((address): Answer => ({ name: host, type: 'A', ttl: hostTtl, flush: true, data: address })),
    };
  };

  const answer = (question: Question): { answers: Answer[]; additionals: Answer[] } | undefined => {
    const { pointer, unique, hosts } = records();
    const name = question.name.toLowerCase().replace(/\.$/, '');
    // dns-packet's types leave out ANY (255), which queriers send.
    const asks = (type: string): boolean => (question.type as string) === type || (question.type as string) === 'ANY';
    if (name === SERVICE_ENUMERATION && asks('PTR')) {
      return { answers: [{ name: SERVICE_ENUMERATION, type: 'PTR', ttl: OTHER_TTL, data: WYOMING_SERVICE }], additionals: [] };
    }
    if (name === WYOMING_SERVICE && asks('PTR')) return { answers: pointer, additionals: [...unique, ...hosts] };
    if (name === instance.toLowerCase()) {
      const answers = [...unique.filter((record) => asks(record.type)), ...hosts.filter((record) => asks(record.type))];
      if (answers.length === 0) return undefined;
      return { answers, additionals: answers.some((record) => record.type === 'SRV') && !asks('A') ? hosts : [] };
    }
    return undefined;
  };

  mdns.on('query', (query, rinfo) => {
    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    for (const question of query.questions ?? []) {
      const found = answer(question);
      if (found === undefined) continue;
      answers.push(...found.answers);
      additionals.push(...found.additionals);
    }
    if (answers.length === 0) return;
    // RFC 6762 §6.7: a query from a port other than 5353 is a simple resolver's (legacy unicast): it
    // gets the answer back at its own address, with the query's id and question.
    const legacy = rinfo.port !== MDNS_PORT;
    mdns.respond(
      legacy ? { id: query.id, questions: query.questions, answers, additionals } : { answers, additionals },
      legacy ? { address: rinfo.address, port: rinfo.port } : undefined,
    );
  });

  const announce = (goodbye = false): Promise<void> => {
    const { pointer, unique, hosts } = records(goodbye);
    return new Promise((resolve) => mdns.respond({ answers: [...pointer, ...unique, ...hosts] }, undefined, () => resolve()));
  };
  await announce();
  const again = setTimeout(() => void announce(), REANNOUNCE_MS);
  again.unref();

  let closing: Promise<void> | undefined;
  return {
    instance,
    close() {
      closing ??= (async () => {
        clearTimeout(again);
        await announce(true);
        await new Promise<void>((resolve) => mdns.destroy(() => resolve()));
      })();
      return closing;
    },
  };
}
