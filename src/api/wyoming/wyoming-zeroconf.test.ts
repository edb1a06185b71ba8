import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import * as dnsPacket from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import { advertiseWyoming, WYOMING_SERVICE, zeroconfAddresses, type ZeroconfAdvertisement } from './wyoming-zeroconf.js';

/**
 * The responder on loopback sockets only: announcements go to a loopback "group" socket and queries
 * come from an ordinary UDP socket (a legacy unicast resolver), so nothing is multicast.
 */
async function loopbackSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

/** Collects the DNS packets a socket receives. */
function packetsOf(socket: Socket): Packet[] {
  const packets: Packet[] = [];
  socket.on('message', (message: Buffer) => packets.push(dnsPacket.decode(message)));
  return packets;
}

async function waitFor<T>(find: () => T | undefined, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const record = (answers: readonly Answer[] | undefined, type: string): Answer | undefined => answers?.find((answer) => answer.type === type);
/** Every record type here but OPT has `data`. */
const dataOf = (answer: Answer | undefined): unknown => (answer as { data?: unknown } | undefined)?.data;

describe('Wyoming zeroconf', () => {
  let group: Socket;
  let responder: Socket;
  let querier: Socket;
  let announced: Packet[];
  let replies: Packet[];
  let advertisement: ZeroconfAdvertisement;
  const port = 10200;
  const addresses = ['192.0.2.10', '192.0.2.11'];

  before(async () => {
    group = await loopbackSocket();
    responder = await loopbackSocket();
    querier = await loopbackSocket();
    announced = packetsOf(group);
    replies = packetsOf(querier);
    advertisement = await advertiseWyoming({
      name: 'living room',
      port,
      addresses,
      transport: { socket: responder, group: { address: '127.0.0.1', port: group.address().port } },
    });
  });
  after(async () => {
    await advertisement.close();
    group.close();
    querier.close();
  });

  const ask = async (name: string, type: dnsPacket.RecordType | 'ANY', id: number): Promise<Packet> => {
    const query = dnsPacket.encode({ type: 'query', id, questions: [{ name, type: type as dnsPacket.RecordType }] });
    querier.send(query, responder.address().port, '127.0.0.1');
    return waitFor(() => replies.find((reply) => reply.id === id));
  };

  it('announces the service, its instance, port and addresses at start, and again a second later', async () => {
    const first = await waitFor(() => announced[0]);
    assert.equal(first.type, 'response');
    assert.equal(advertisement.instance, `living room.${WYOMING_SERVICE}`);
    assert.deepEqual(record(first.answers, 'PTR'), { name: WYOMING_SERVICE, type: 'PTR', ttl: 4500, class: 'IN', flush: false, data: advertisement.instance });
    const srv = record(first.answers, 'SRV') as Extract<Answer, { type: 'SRV' }>;
    assert.equal(srv.name, advertisement.instance);
    assert.equal(srv.data.port, port);
    assert.equal(srv.flush, true);
    const a = first.answers!.filter((answer) => answer.type === 'A');
    assert.deepEqual(a.map(dataOf), addresses);
    assert.ok(a.every((answer) => answer.name === srv.data.target), 'the addresses belong to the SRV target');
    await waitFor(() => announced[1], 3000);
  });

  it('answers a PTR query for _wyoming._tcp.local with the instance, its SRV and addresses (legacy unicast: same id and question)', async () => {
    const reply = await ask(WYOMING_SERVICE, 'PTR', 4242);
    assert.equal(reply.type, 'response');
    assert.equal(reply.questions?.[0]?.name, WYOMING_SERVICE);
    assert.equal(dataOf(record(reply.answers, 'PTR')), advertisement.instance);
    assert.equal((record(reply.additionals, 'SRV') as Extract<Answer, { type: 'SRV' }>).data.port, port);
    assert.deepEqual(reply.additionals!.filter((answer) => answer.type === 'A').map(dataOf), addresses);
  });

  it('answers SRV and A queries for the instance, and DNS-SD service enumeration', async () => {
    const srv = await ask(advertisement.instance, 'SRV', 4243);
    assert.equal((record(srv.answers, 'SRV') as Extract<Answer, { type: 'SRV' }>).data.port, port);
    const a = await ask(advertisement.instance, 'A', 4244);
    assert.deepEqual(a.answers!.map(dataOf), addresses);
    const services = await ask('_services._dns-sd._udp.local', 'PTR', 4245);
    assert.equal(dataOf(record(services.answers, 'PTR')), WYOMING_SERVICE);
  });

  it('stays silent for names it does not own', async () => {
    querier.send(dnsPacket.encode({ type: 'query', id: 4246, questions: [{ name: '_http._tcp.local', type: 'PTR' }] }), responder.address().port, '127.0.0.1');
    const answered = await ask(WYOMING_SERVICE, 'PTR', 4247);
    assert.ok(answered);
    assert.equal(replies.find((reply) => reply.id === 4246), undefined);
  });

  it('says goodbye (TTL 0) when closed', async () => {
    const before = announced.length;
    await advertisement.close();
    const goodbye = await waitFor(() => announced.slice(before).find((packet) => packet.answers?.every((answer) => (answer as { ttl?: number }).ttl === 0)));
    assert.ok(record(goodbye.answers, 'PTR'));
    assert.ok(record(goodbye.answers, 'SRV'));
  });
});

describe('zeroconfAddresses', () => {
  it('announces a specific IPv4 address as it is, no loopback, and every external IPv4 address for 0.0.0.0', () => {
    assert.deepEqual(zeroconfAddresses('192.168.1.20'), ['192.168.1.20']);
    assert.deepEqual(zeroconfAddresses('127.0.0.1'), []);
    for (const address of zeroconfAddresses('0.0.0.0')) assert.ok(!address.startsWith('127.'), address);
  });
});
