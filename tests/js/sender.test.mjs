// The answer sender: strictly in order, retried until acknowledged, each answer with its own client key.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createSender, newClientKey } from "../../static/mirage/reader/sender.mjs";

function response(status, body) {
  return { ok: status >= 200 && status < 300, status, json: async () => body };
}

/** A fetch whose every call waits until the test answers it: calls[i].answer(response) or .fail(). */
function fakeFetch() {
  const calls = [];
  const fetch = (url, init) => new Promise((resolve, reject) => {
    calls.push({ url, init, payload: JSON.parse(init.body), answer: resolve, fail: () => reject(new TypeError("Failed to fetch")) });
  });
  return { fetch, calls };
}

/** A sleep that records how long it was asked to wait and returns at once. */
function fakeSleep() {
  const waits = [];
  return { waits, sleep: async (ms) => { waits.push(ms); } };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test("answers go to the server one after another, each once the one before is acknowledged", async () => {
  const { fetch, calls } = fakeFetch();
  const acknowledged = [];
  const sender = createSender({ url: "/answers/", fetch, sleep: fakeSleep().sleep,
                                onAcknowledged: (body) => acknowledged.push(body.trial) });
  const sent = ["a", "b", "c"].map((trial) => sender.send({ trial }, "main"));
  await settle();
  assert.deepEqual(calls.map((c) => c.payload.trial), ["a"], "only the first answer is on its way");
  assert.equal(sender.pending(), 3);
  calls[0].answer(response(201, { trial: "a" }));
  await settle();
  assert.deepEqual(calls.map((c) => c.payload.trial), ["a", "b"]);
  calls[1].answer(response(201, { trial: "b" }));
  await settle();
  calls[2].answer(response(201, { trial: "c" }));
  assert.deepEqual((await Promise.all(sent)).map((b) => b.trial), ["a", "b", "c"]);
  assert.deepEqual(acknowledged, ["a", "b", "c"]);
  assert.equal(sender.pending(), 0);
  assert.equal(calls[0].url, "/answers/");
  assert.equal(calls[0].init.method, "POST");
});

test("a lost connection is retried with the same payload, waiting longer each time, until acknowledged", async () => {
  const { fetch, calls } = fakeFetch();
  const { sleep, waits } = fakeSleep();
  const said = [];
  const sender = createSender({ url: "/answers/", fetch, sleep, onConnection: (s) => said.push(s) });
  const key = newClientKey();
  const sent = sender.send({ trial: "a", client_key: key }, "main");
  for (let i = 0; i < 6; i += 1) {
    await settle();
    calls[i].fail();
  }
  await settle();
  calls[6].answer(response(502, {}));  // a proxy's error page: also retried
  await settle();
  calls[7].answer(response(200, { trial: "a", created: false, same_client: true }));
  const body = await sent;
  assert.equal(body.same_client, true);
  assert.equal(calls.length, 8);
  assert.ok(calls.every((c) => c.init.body === calls[0].init.body), "every try sends the same answer");
  assert.ok(calls.every((c) => c.payload.client_key === key));
  assert.deepEqual(waits, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
  assert.deepEqual(said, ["lost", "restored"], "said once when lost and once when back");
});

test("a busy server (429) is retried; a refusal (4xx) is final, says why, and the next answer still goes", async () => {
  const { fetch, calls } = fakeFetch();
  const refused = [];
  const acknowledged = [];
  const sender = createSender({ url: "/answers/", fetch, sleep: fakeSleep().sleep,
                                onRefused: (error) => refused.push([error.message, error.status]),
                                onAcknowledged: (body) => acknowledged.push(body.trial) });
  const first = sender.send({ trial: "a" }, "main");
  const second = sender.send({ trial: "b" }, "main");
  await settle();
  calls[0].answer(response(429, { detail: "Slow down." }));
  await settle();
  calls[1].answer(response(409, { detail: "The study is not open for reading right now." }));
  await assert.rejects(first, /not open for reading/);
  await settle();
  assert.equal(calls[2].payload.trial, "b");
  calls[2].answer(response(201, { trial: "b" }));
  assert.equal((await second).trial, "b");
  assert.deepEqual(refused, [["The study is not open for reading right now.", 409]]);
  assert.deepEqual(acknowledged, ["b"]);
});

test("a refusal without a readable reason gets a plain one", async () => {
  const fetch = async () => ({ ok: false, status: 400, json: async () => { throw new SyntaxError("not JSON"); } });
  const sender = createSender({ url: "/answers/", fetch, sleep: fakeSleep().sleep });
  await assert.rejects(sender.send({ trial: "a" }), /This answer could not be saved/);
});

test("pending answers are counted by kind, and have dropped by the time their acknowledgement is handled", async () => {
  const { fetch, calls } = fakeFetch();
  const seen = [];
  const sender = createSender({ url: "/answers/", fetch, sleep: fakeSleep().sleep,
                                onAcknowledged: (body, kind) => seen.push([body.trial, kind, sender.pending(kind)]) });
  const a = sender.send({ trial: "p1" }, "practice");
  const b = sender.send({ trial: "m1" }, "main");
  assert.deepEqual([sender.pending("practice"), sender.pending("main"), sender.pending()], [1, 1, 2]);
  await settle();
  calls[0].answer(response(201, { trial: "p1" }));
  await a;
  assert.deepEqual([sender.pending("practice"), sender.pending("main")], [0, 1]);
  await settle();
  calls[1].answer(response(201, { trial: "m1" }));
  await b;
  await sender.idle();
  assert.deepEqual(seen, [["p1", "practice", 0], ["m1", "main", 0]]);
});

test("idle() waits for every answer sent so far, acknowledged or refused", async () => {
  const { fetch, calls } = fakeFetch();
  const sender = createSender({ url: "/answers/", fetch, sleep: fakeSleep().sleep });
  sender.send({ trial: "a" }).catch(() => {});
  sender.send({ trial: "b" });
  let idle = false;
  sender.idle().then(() => { idle = true; });
  await settle();
  calls[0].answer(response(403, { detail: "Your participation in this study has ended." }));
  await settle();
  assert.equal(idle, false);
  calls[1].answer(response(201, { trial: "b" }));
  await settle();
  assert.equal(idle, true);
});

test("an acknowledgement cut off on its way is sent again", async () => {
  const { fetch, calls } = fakeFetch();
  const sender = createSender({ url: "/answers/", fetch, sleep: fakeSleep().sleep });
  const sent = sender.send({ trial: "a" });
  await settle();
  calls[0].answer({ ok: true, status: 201, json: async () => { throw new SyntaxError("Unexpected end of JSON"); } });
  await settle();
  calls[1].answer(response(200, { trial: "a", created: false, same_client: true }));
  assert.equal((await sent).same_client, true);
});

test("each answer gets its own client key", () => {
  const keys = new Set(Array.from({ length: 100 }, () => newClientKey()));
  assert.equal(keys.size, 100);
  const fallback = new Set(Array.from({ length: 100 }, () => newClientKey(null)));
  assert.equal(fallback.size, 100, "without crypto.randomUUID too");
  assert.equal(newClientKey({ randomUUID: () => "uuid-1" }), "uuid-1");
});
