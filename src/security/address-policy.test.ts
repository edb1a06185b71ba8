import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChorusError } from '../errors.js';
import { assertPublicUrl, isPublicAddress, resolvePublicUrl } from './address-policy.js';

describe('isPublicAddress', () => {
  const refused = [
    // IPv4: unspecified, private, loopback, link-local / cloud metadata, CGNAT, multicast, reserved, documentation
    '0.0.0.0', '0.1.2.3', '10.0.0.1', '10.255.255.255', '127.0.0.1', '127.255.255.254', '169.254.169.254', '169.254.0.1',
    '172.16.0.1', '172.31.255.255', '192.168.0.1', '192.168.255.255', '100.64.0.1', '100.127.255.255', '224.0.0.1',
    '239.255.255.250', '240.0.0.1', '255.255.255.255', '192.0.2.1', '198.51.100.7', '203.0.113.9', '198.18.0.1', '192.0.0.8',
    // IPv6: unspecified, loopback, unique local, link-local, multicast, documentation, site-local
    '::', '::1', '0:0:0:0:0:0:0:1', 'fc00::1', 'fd12:3456:789a::1', 'fe80::1', 'fe80::1%eth0', 'febf::1', 'fec0::1', 'ff02::1',
    'ff0e::1', '2001:db8::1', '100::1', '[::1]',
    // IPv4 inside IPv6: mapped, translated, compatible, NAT64, 6to4
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::ffff:0:10.0.0.1', '::127.0.0.1',
    '64:ff9b::10.0.0.1', '64:ff9b::a9fe:a9fe', '2002:0a00:0001::1', '2002:7f00:1::',
    // Not addresses at all
    'localhost', 'example.com', '', '1.2.3', '1.2.3.4.5', '256.1.1.1', '::g', '1:2:3:4:5:6:7:8:9', '01.02.03.04x',
  ];
  const allowed = [
    '1.1.1.1', '8.8.8.8', '93.184.216.34', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0', '192.167.1.1',
    '192.169.0.1', '169.253.1.1', '223.255.255.255', '11.0.0.1', '126.255.255.255', '128.0.0.1',
    '2606:4700:4700::1111', '2001:4860:4860::8888', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808',
    '2002:0808:0808::1', '[2606:4700:4700::1111]',
  ];
  for (const ip of refused) it(`refuses ${JSON.stringify(ip)}`, () => assert.equal(isPublicAddress(ip), false));
  for (const ip of allowed) it(`allows ${ip}`, () => assert.equal(isPublicAddress(ip), true));
});

describe('assertPublicUrl / resolvePublicUrl', () => {
  const rejects = async (url: string, pattern: RegExp, allowPrivate = false) => {
    await assert.rejects(assertPublicUrl(url, { allowPrivate, param: 'prompt_speech_url' }), (error: unknown) => {
      assert.ok(ChorusError.isInstance(error));
      assert.equal(error.param, 'prompt_speech_url');
      assert.match(error.message, /'prompt_speech_url'/);
      assert.match(error.message, pattern);
      return true;
    });
  };

  it('refuses loopback, private, metadata and IPv6 literals, and localhost by name', async () => {
    await rejects('https://127.0.0.1/a.wav', /private, loopback/);
    await rejects('https://10.1.2.3/a.wav', /10\.1\.2\.3/);
    await rejects('https://169.254.169.254/latest/meta-data/', /169\.254\.169\.254/);
    await rejects('https://[::1]/a.wav', /::1/);
    await rejects('https://[fd00::5]:8443/a.wav', /fd00::5/);
    await rejects('https://[::ffff:127.0.0.1]/a.wav', /non-public/);
    await rejects('https://localhost/a.wav', /localhost/);
    await rejects('https://0x7f000001/a.wav', /non-public/); // WHATWG URL normalises to 127.0.0.1
  });

  it('refuses http unless private URLs are allowed, and other schemes always', async () => {
    await rejects('http://93.184.216.34/a.wav', /https/);
    await rejects('ftp://93.184.216.34/a.wav', /https/, true);
    await rejects('file:///etc/passwd', /https/, true);
    await rejects('not a url', /not a valid URL/);
    await rejects('https://user:pw@93.184.216.34/a.wav', /user name or password/);
  });

  it('a host that does not resolve is an error naming the field', async () => {
    await rejects('https://no-such-host.invalid/a.wav', /does not resolve/);
  });

  it('allowPrivate lets loopback and http through and returns the addresses', async () => {
    const addresses = await resolvePublicUrl('http://127.0.0.1:9/a.wav', { allowPrivate: true });
    assert.deepEqual(addresses, [{ address: '127.0.0.1', family: 4 }]);
    const v6 = await resolvePublicUrl('https://[::1]/x', { allowPrivate: true });
    assert.deepEqual(v6, [{ address: '::1', family: 6 }]);
  });

  it('a public literal passes without DNS', async () => {
    assert.deepEqual(await resolvePublicUrl('https://8.8.8.8/a.wav', { allowPrivate: false }), [{ address: '8.8.8.8', family: 4 }]);
  });
});
