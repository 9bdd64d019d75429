// Segment's own Node SDK (@segment/analytics-node) against `nudge serve`,
// for tests/cli/test_segment_sdk.sh:
//
//   node segment_client.js HOST WRITE_KEY
//
// HOST is http://127.0.0.1:PORT.  Three clients, one after the other, each
// flushed and closed before the next:
//   1. "sdk-dup-1" (Coupon Applied) once;
//   2. identify, page, Product Viewed, Checkout Started ("sdk-checkout-1"),
//      an anonymous page and "sdk-dup-1" again: the same messageId in a
//      second request, as a client retrying would send it;
//   3. one track with a wrong write key, which the server must refuse.
// Prints one JSON line: {"ok": [messageIds acknowledged], "failed":
// [{"messageId", "error"}]}; exits 0 when clients 1 and 2 had every event
// acknowledged and client 3's was refused, else 1.
'use strict';
const { Analytics } = require('@segment/analytics-node');

const [host, writeKey] = process.argv.slice(2);
if (!host || !writeKey) {
  console.error('usage: node segment_client.js HOST WRITE_KEY');
  process.exit(2);
}

const acked = [];
const failed = [];

function client(key) {
  const analytics = new Analytics({
    writeKey: key,
    host,
    path: '/v1/batch',
    flushAt: 3,           // several batches, not one
    flushInterval: 200,
    maxRetries: key === writeKey ? 2 : 0,
    httpRequestTimeout: 5000,
  });
  analytics.on('error', (err) => failed.push({ messageId: null, error: String(err && (err.reason || err.message || err)) }));
  return analytics;
}

// call(analytics, 'track', {...}): the call, recording its outcome by messageId.
function call(analytics, method, params) {
  return new Promise((resolve) => {
    analytics[method](params, (err, ctx) => {
      const id = ctx && ctx.event ? ctx.event.messageId : params.messageId;
      if (err) failed.push({ messageId: id, error: String(err.reason || err.message || err) });
      else acked.push(id);
      resolve();
    });
  });
}

async function main() {
  const products = [{ product_id: 'p-1', name: 'Mug', price: 12, quantity: 1 }];

  const first = client(writeKey);
  const dup = { userId: 'sdk-u1', event: 'Coupon Applied', messageId: 'sdk-dup-1', properties: { coupon: 'TEN' } };
  const p1 = call(first, 'track', dup);
  await first.closeAndFlush({ timeout: 10000 });
  await p1;

  const second = client(writeKey);
  const calls = [
    call(second, 'identify', {
      userId: 'sdk-u1',
      messageId: 'sdk-identify-1',
      traits: { email: 'sdk.one@example.test', first_name: 'Sam', timezone: 'Europe/Paris' },
    }),
    call(second, 'page', { userId: 'sdk-u1', messageId: 'sdk-page-1', name: 'Home', properties: { path: '/' } }),
    call(second, 'track', {
      userId: 'sdk-u1', messageId: 'sdk-viewed-1', event: 'Product Viewed', properties: products[0],
    }),
    call(second, 'track', {
      userId: 'sdk-u1', messageId: 'sdk-checkout-1', event: 'Checkout Started',
      properties: { order_id: 'o-1', value: 12, currency: 'EUR', products },
    }),
    call(second, 'page', { anonymousId: 'sdk-anon-1', messageId: 'sdk-page-2', name: 'Pricing' }),
    call(second, 'track', dup),
  ];
  await second.closeAndFlush({ timeout: 10000 });
  await Promise.all(calls);

  const ok = failed.length === 0 && acked.length === 7;

  const third = client('wk_wrong');
  const bad = call(third, 'track', { userId: 'sdk-u1', messageId: 'sdk-wrongkey-1', event: 'Wrong Key' });
  await third.closeAndFlush({ timeout: 10000 });
  await bad;
  const refused = failed.filter((f) => f.messageId === 'sdk-wrongkey-1').length === 1 &&
                  !acked.includes('sdk-wrongkey-1');

  console.log(JSON.stringify({ ok: acked, failed }));
  process.exit(ok && refused ? 0 : 1);
}

main().catch((err) => {
  console.log(JSON.stringify({ ok: acked, failed, crash: String(err && err.stack || err) }));
  process.exit(1);
});
