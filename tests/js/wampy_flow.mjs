// Router features and a short chat flow driven by wampy.js in Node against a running wampchat.
//
// Usage: node wampy_flow.mjs WS_URL SERIALIZER SCENARIO
//   WS_URL      ws://127.0.0.1:PORT/ws
//   SERIALIZER  json | msgpack | cbor
//   SCENARIO    pubsub | patterns | rpc | progress | timeout | shared | login | chat | audience
//
// wampy.js is worth testing beside AutobahnJS because it encodes the options
// it leaves unset as JavaScript `undefined` (e.g. every plain SUBSCRIBE is
// {match: undefined, get_retained: undefined}); over MessagePack and CBOR that
// reaches the router as a value, which the router must read as "not given".
// Guests work under app.*, which the default guest role may use. The scenario
// prints one JSON line {protocol, <scenario>: what it observed} and exits 0, or
// prints the error to stderr and exits 1; it gives up after 20 s.
import { Wampy } from "wampy";
import { JsonSerializer } from "wampy/JsonSerializer.js";
import { MsgpackSerializer } from "wampy/MsgpackSerializer.js";
import { CborSerializer } from "wampy/CborSerializer.js";
import { sign } from "wampy/wampcra.js";
import websocket from "websocket";

const [url, serializerName, scenarioName] = process.argv.slice(2);
const PASSWORD = "a long password";
const deadline = setTimeout(() => fail(new Error("timed out after 20 s")), 20000);
const opened = [];

function fail(err) {
  const wamp = err && err.errorUri
    ? ` ${err.errorUri} ${JSON.stringify(err.argsList)} ${JSON.stringify(err.argsDict)}` : "";
  console.error(`${err && err.stack || err}${wamp}`);
  process.exit(1);
}

function serializer() {
  const made = { json: JsonSerializer, msgpack: MsgpackSerializer, cbor: CborSerializer }[serializerName];
  if (!made) throw new Error(`unknown serializer ${serializerName}`);
  return new made();
}

// A joined wampy session; `auth` adds authid/authmethods/onChallenge, `hello` extra HELLO details.
async function open({ auth = {}, hello = null } = {}) {
  const client = new Wampy(url, {
    realm: "wampchat", ws: websocket.w3cwebsocket, serializer: serializer(),
    autoReconnect: false, helloCustomDetails: hello, ...auth,
  });
  const details = await client.connect();
  opened.push(client);
  return { client, details, protocol: client._ws.protocol };
}

// What a rejected wampy promise says: its WAMP error URI and payload.
function errorOf(promise) {
  return promise.then(() => null, (e) => ({ error: e.errorUri || String(e), args: e.argsList, kwargs: e.argsDict }));
}

function signal() {
  let fire;
  const promise = new Promise((resolve) => { fire = resolve; });
  return { promise, fire };
}

// plain subscribe (undefined options), publish with args and kwargs, publisher excluded by default
async function pubsub() {
  const a = await open();
  const b = await open();
  const events = [];
  const ownEvents = [];
  const bGot = signal();
  const aGot = signal();
  await b.client.subscribe("app.wampy.topic", ({ argsList, argsDict, details }) => {
    events.push({ args: argsList, kwargs: argsDict, publisher: details.publisher });
    bGot.fire();
  });
  await a.client.subscribe("app.wampy.topic", ({ argsList }) => { ownEvents.push(argsList); aGot.fire(); });
  const published = await a.client.publish("app.wampy.topic", { argsList: [1, "two"], argsDict: { three: 3 } });
  await bGot.promise;
  // b's publication reaches a after anything of a's own would have, so a seeing only it proves exclusion.
  await b.client.publish("app.wampy.topic", ["from b"]);
  await aGot.promise;
  return { publicationId: published.publicationId, events, publisherSession: a.client.getSessionId(), ownEvents };
}

// prefix and wildcard subscriptions: each event names the topic it was published to
async function patterns() {
  const a = await open();
  const b = await open();
  const seen = [];
  const all = signal();
  const record = (kind) => ({ argsList, details }) => {
    seen.push({ kind, topic: details.topic, args: argsList });
    if (seen.length === 3) all.fire();
  };
  await b.client.subscribe("app.wampy.p", record("prefix"), { match: "prefix" });
  await b.client.subscribe("app.wampy..w", record("wildcard"), { match: "wildcard" });
  await b.client.subscribe("app.wampy.exact", record("exact"));
  await a.client.publish("app.wampy.p.one", [1]);
  await a.client.publish("app.wampy.x.w", [2]);
  await a.client.publish("app.wampy.exact", [3]);
  await all.promise;
  return { seen };
}

// publications limited by session id (eligible / exclude), then unsubscribe and unregister. Session,
// subscription and registration ids are random up to 2**53, and wampy's CBOR encoder (cbor-x) sends every
// integer above 2**32 as a float64: the router must read 1234.0 as the id 1234, not end the session.
async function audience() {
  const a = await open();
  const b = await open();
  const c = await open();
  const bId = b.client.getSessionId();
  const got = { b: [], c: [] };
  const done = signal();
  const record = (name) => ({ argsList }) => {
    got[name].push(argsList[0]);
    if (got.b.length + got.c.length === 4) done.fire();
  };
  await b.client.subscribe("app.wampy.audience", record("b"));
  await c.client.subscribe("app.wampy.audience", record("c"));
  await a.client.publish("app.wampy.audience", ["only b"], { eligible: [bId] });
  await a.client.publish("app.wampy.audience", ["all but b"], { exclude: [bId] });
  await a.client.publish("app.wampy.audience", ["everyone"]);
  await done.promise;
  await b.client.unsubscribe("app.wampy.audience");
  await b.client.register("app.wampy.audience.proc", () => ({ argsList: ["registered"] }));
  const called = await a.client.call("app.wampy.audience.proc");
  await b.client.unregister("app.wampy.audience.proc");
  const afterUnregister = await errorOf(a.client.call("app.wampy.audience.proc"));
  return { got, called: called.argsList, afterUnregister: afterUnregister && afterUnregister.error };
}

// calls with results, a callee's error URI with payload, no_such_procedure, not_authorized
async function rpc() {
  const a = await open();
  const b = await open();
  await b.client.register("app.wampy.add", ({ argsList }) => ({ argsList: [argsList[0] + argsList[1]] }));
  await b.client.register("app.wampy.kw",
    ({ argsList, argsDict }) => ({ argsList: [argsList.length], argsDict: { seen: argsDict } }));
  await b.client.register("app.wampy.fail", () => {
    throw { error: "app.error.x", argsList: [1], argsDict: { a: 2 } };
  });
  const sum = await a.client.call("app.wampy.add", [2, 3]);
  const kw = await a.client.call("app.wampy.kw", { argsList: [7, 8], argsDict: { x: "y" } });
  return {
    sum: sum.argsList,
    kwResult: { args: kw.argsList, kwargs: kw.argsDict },
    calleeError: await errorOf(a.client.call("app.wampy.fail")),
    noSuchProcedure: await errorOf(a.client.call("app.wampy.nobody")),
    notAuthorizedCall: await errorOf(a.client.call("elsewhere.proc")),
    notAuthorizedRegister: await errorOf(a.client.register("svc.wampy.mine", () => ({}))),
  };
}

// progressive results: every progress in order, then the final result; none for a caller that did not ask
async function progress() {
  const a = await open();
  const b = await open();
  await b.client.register("app.wampy.count", async ({ argsList, details, result_handler }) => {
    if (!details.receive_progress) return { argsList: ["caller did not ask for progress"] };
    for (let i = 0; i < argsList[0]; i++) result_handler({ options: { progress: true }, argsList: [i] });
    return { argsList: ["done"] };
  });
  const seen = [];
  const final = await a.client.call("app.wampy.count", [3], {
    progress_callback: ({ argsList }) => seen.push(argsList[0]),
  });
  const without = await a.client.call("app.wampy.count", [3]);
  return { progress: seen, final: final.argsList, withoutProgress: without.argsList };
}

// a call whose callee never answers fails with wamp.error.timeout at its timeout; the session carries on
async function timeout() {
  const a = await open();
  const b = await open();
  let invoked = 0;
  await b.client.register("app.wampy.never", () => { invoked += 1; return new Promise(() => {}); });
  await b.client.register("app.wampy.ping", () => ({ argsList: ["pong"] }));
  const started = Date.now();
  const timedOut = await errorOf(a.client.call("app.wampy.never", [], { timeout: 300 }));
  const elapsed = Date.now() - started;
  const after = await a.client.call("app.wampy.ping");
  return { timedOut, elapsedMs: elapsed, invoked, after: after.argsList };
}

// shared registrations: roundrobin alternates callees; a second single registration is refused
async function shared() {
  const caller = await open();
  const one = await open();
  const two = await open();
  await one.client.register("app.wampy.shared", () => ({ argsList: ["one"] }), { invoke: "roundrobin" });
  await two.client.register("app.wampy.shared", () => ({ argsList: ["two"] }), { invoke: "roundrobin" });
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push((await caller.client.call("app.wampy.shared")).argsList[0]);
  await one.client.register("app.wampy.single", () => ({ argsList: [1] }));
  const conflict = await errorOf(two.client.register("app.wampy.single", () => ({ argsList: [2] })));
  const mixed = await errorOf(two.client.register("app.wampy.shared2", () => ({}), { invoke: "random" })
    .then(() => one.client.register("app.wampy.shared2", () => ({}), { invoke: "first" })));
  return { answers, conflict, mixed };
}

// ticket and wampcra logins of a user registered through chat.user.register; a wrong password is refused
async function login() {
  const guest = await open();
  const username = `wampy_${serializerName}`;
  await guest.client.call("chat.user.register", [username, PASSWORD]);
  const ticket = await open({ auth: { authid: username, authmethods: ["ticket"], onChallenge: () => PASSWORD } });
  const cra = await open({ auth: { authid: username, authmethods: ["wampcra"], onChallenge: sign(PASSWORD) } });
  const wrong = await open({ auth: { authid: username, authmethods: ["ticket"], onChallenge: () => "not it" } })
    .then(() => null, (e) => e.errorUri || String(e));
  const me = await cra.client.call("chat.user.me");
  const view = (d) => ({ authid: d.authid, authrole: d.authrole, authmethod: d.authmethod });
  return { ticket: view(ticket.details), wampcra: view(cra.details), wrong, me: me.argsList[0] };
}

// a guest joins the lobby, listens to it, sends a message and receives it as an event
async function chat() {
  const guest = await open({ hello: { authmethods: ["anonymous"], authextra: { nick: "Wampy" } } });
  const got = signal();
  const events = [];
  const joined = await guest.client.call("chat.room.join", ["lobby"]);
  await guest.client.subscribe("chat.room.lobby.message", ({ argsList }) => { events.push(argsList[0]); got.fire(); });
  const sent = await guest.client.call("chat.message.send", { argsList: ["lobby", "hello from wampy"],
    argsDict: { client_msg_id: "w-1" } });
  await got.promise;
  const me = await guest.client.call("chat.user.me");
  return { room: joined.argsList[0].room, me: me.argsList[0], sent: sent.argsList[0], events };
}

const SCENARIOS = { pubsub, patterns, rpc, progress, timeout, shared, login, chat, audience };

async function main() {
  if (!url || !SCENARIOS[scenarioName]) {
    throw new Error(`usage: node wampy_flow.mjs WS_URL SERIALIZER ${Object.keys(SCENARIOS).join("|")}`);
  }
  const probe = await open();
  const result = { protocol: probe.protocol, [scenarioName]: await SCENARIOS[scenarioName]() };
  // msgpackr decodes 64-bit integers (ids, timestamps) as BigInt; they are all below 2**53
  console.log(JSON.stringify(result, (key, value) => (typeof value === "bigint" ? Number(value) : value)));
  // say GOODBYE (still under the 20 s deadline); a session that already failed to join has nothing to close
  await Promise.all(opened.map((c) => Promise.resolve(c.disconnect())));
  clearTimeout(deadline);
  process.exit(0);
}

main().catch(fail);
