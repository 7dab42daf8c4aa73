// Router features driven by AutobahnJS in Node against a running wampchat.
//
// Usage: node router_flow.js [WS_URL] [SERIALIZER] [SCENARIO]
//   WS_URL      ws://127.0.0.1:PORT/ws (or $WAMPCHAT_URL)
//   SERIALIZER  json | msgpack | cbor (or $WAMPCHAT_SERIALIZER; default json)
//   SCENARIO    pubsub | rpc | errors | progress | peer (default: all but peer)
//
// Guest sessions work under app.*, which the default guest role may use.
// Every scenario prints one JSON line with what it observed; the process
// exits 0, or prints the error to stderr and exits 1. The "peer" scenario
// talks to a Python session run by test_autobahnjs.py: it registers and
// subscribes, prints {"ready": true}, then calls/publishes to the Python
// side and waits for the Python side to call/publish back.
"use strict";

const autobahn = require("autobahn");

const url = process.argv[2] || process.env.WAMPCHAT_URL;
const serializerName = process.argv[3] || process.env.WAMPCHAT_SERIALIZER || "json";
const scenarioName = process.argv[4] || "all";
const deadline = setTimeout(() => fail(new Error("timed out after 20 s")), 20000);

function fail(err) {
  console.error(err && err.error ? `${err.error} ${JSON.stringify(err.args)} ${JSON.stringify(err.kwargs)}`
    : String(err && err.stack || err));
  process.exit(1);
}

function serializers() {
  const s = autobahn.serializer;
  const made = { json: s.JSONSerializer, msgpack: s.MsgpackSerializer, cbor: s.CBORSerializer }[serializerName];
  if (!made) throw new Error(`serializer ${serializerName} is not available in this AutobahnJS`);
  return [new made()];
}

function open() {
  return new Promise((resolve, reject) => {
    const connection = new autobahn.Connection({
      url, realm: "wampchat", max_retries: 0, serializers: serializers(), authmethods: ["anonymous"],
    });
    connection.onopen = (session) => resolve({ connection, session, protocol: connection.transport.info.protocol });
    connection.onclose = (reason, details) => {
      reject(new Error(`closed before join: ${reason} ${JSON.stringify(details)}`));
      return true;
    };
    connection.open();
  });
}

function errorOf(promise) {
  return promise.then(() => null, (e) => ({ error: e.error, args: e.args, kwargs: e.kwargs }));
}

function signal() {
  let fire;
  const promise = new Promise((resolve) => { fire = resolve; });
  return { promise, fire };
}

// publish with acknowledge, args and kwargs, exclude_me (default and false), publisher disclosure
async function pubsub(a, b) {
  const events = [];
  const ownEvents = [];
  const bGot = signal();
  const bGotBoth = signal();
  const aGot = signal();
  await b.session.subscribe("app.js.topic", (args, kwargs, details) => {
    events.push({ args, kwargs, publisher: details.publisher });
    (events.length === 1 ? bGot : bGotBoth).fire();
  });
  await a.session.subscribe("app.js.topic", (args) => { ownEvents.push(args); aGot.fire(); });
  const pub = await a.session.publish("app.js.topic", [1, "two"], { three: 3 }, { acknowledge: true });
  await bGot.promise;
  // Events for a publication and its PUBLISHED leave the router before the
  // next publication's, so a second, non-excluding publish that reaches the
  // publisher proves the first one did not.
  await a.session.publish("app.js.topic", ["mine too"], {}, { acknowledge: true, exclude_me: false });
  await aGot.promise;
  await bGotBoth.promise;  // b hears both publications, in order
  return {
    publicationId: pub.id, events, publisherSession: a.session.id, ownEvents,
  };
}

// register, call, result (positional and keyword)
async function rpc(a, b) {
  await b.session.register("app.js.add", (args) => args[0] + args[1]);
  await b.session.register("app.js.kw", (args, kwargs) => new autobahn.Result([args.length], { seen: kwargs }));
  const sum = await a.session.call("app.js.add", [2, 3]);
  const kw = await a.session.call("app.js.kw", [7, 8], { x: "y" });
  return { sum, kwResult: { args: kw.args, kwargs: kw.kwargs } };
}

// unknown procedure, callee error with args/kwargs, not authorized (publish, call, register)
async function errors(a, b) {
  await b.session.register("app.js.fail", () => { throw new autobahn.Error("app.error.x", [1], { a: 2 }); });
  return {
    noSuchProcedure: await errorOf(a.session.call("app.js.nobody")),
    calleeError: await errorOf(a.session.call("app.js.fail")),
    notAuthorizedPublish: await errorOf(a.session.publish("elsewhere.topic", [], {}, { acknowledge: true })),
    notAuthorizedCall: await errorOf(a.session.call("elsewhere.proc")),
    notAuthorizedRegister: await errorOf(a.session.register("svc.js.mine", () => 1)),
  };
}

// progressive call results: every progress before the final result, in order
async function progress(a, b) {
  await b.session.register("app.js.count", (args, kwargs, details) => {
    if (!details.progress) return "caller did not ask for progress";
    for (let i = 0; i < args[0]; i++) details.progress([i]);
    return "done";
  });
  const seen = [];
  const final = await a.session.call("app.js.count", [3], {}, { receive_progress: true })
    .then((res) => res, null, (p) => seen.push(p && p.args ? p.args[0] : p));
  const withoutProgress = await a.session.call("app.js.count", [3]);
  return { progress: seen, progressFinal: final, withoutProgress };
}

// JS and Python sessions in both directions (see test_autobahnjs.py)
async function peer(a) {
  const inbox = signal();
  const fromPythonEvents = [];
  const callsFromPython = [];
  await a.session.register("app.js.echo", (args, kwargs, details) => {
    callsFromPython.push({ args, kwargs });
    return `node got ${args[0]}`;
  });
  await a.session.subscribe("app.js.inbox", (args, kwargs) => {
    fromPythonEvents.push({ args, kwargs });
    inbox.fire();
  });
  console.log(JSON.stringify({ ready: true }));
  const fromPython = await a.session.call("app.py.echo", ["from node"]);
  await a.session.publish("app.py.inbox", ["hello python"], { n: 1 }, { acknowledge: true });
  await inbox.promise;
  return { fromPython, fromPythonEvents, callsFromPython };
}

const SCENARIOS = { pubsub, rpc, errors, progress, peer };

async function main() {
  if (!url) throw new Error("give the router URL as the first argument or in WAMPCHAT_URL");
  const names = scenarioName === "all" ? ["pubsub", "rpc", "errors", "progress"] : [scenarioName];
  for (const name of names) {
    if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}`);
  }
  const a = await open();
  const b = await open();
  const result = { protocol: a.protocol };
  for (const name of names) result[name] = await SCENARIOS[name](a, b);
  clearTimeout(deadline);
  console.log(JSON.stringify(result));
  a.connection.close();
  b.connection.close();
  process.exitCode = 0;
  setTimeout(() => process.exit(0), 50);
}

main().catch(fail);
