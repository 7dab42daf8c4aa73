// Router features driven by AutobahnJS in Node against a running wampchat.
//
// Usage: node router_flow.js WS_URL SERIALIZER(json|msgpack|cbor)
// Two guest sessions exercise pub/sub, RPC, errors and progressive results
// under app.*, and a third waits for a Python peer (see test_autobahnjs.py).
// Prints one JSON line with what it observed and exits 0, or prints the error
// and exits 1.
"use strict";

const autobahn = require("autobahn");

const [url, serializerName] = process.argv.slice(2);
const deadline = setTimeout(() => fail(new Error("timed out after 30 s")), 30000);

function fail(err) {
  console.error(err && err.error ? `${err.error} ${JSON.stringify(err.args)}` : String(err && err.stack || err));
  process.exit(1);
}

function serializers() {
  if (serializerName === "msgpack") return [new autobahn.serializer.MsgpackSerializer()];
  if (serializerName === "cbor") return [new autobahn.serializer.CBORSerializer()];
  return [new autobahn.serializer.JSONSerializer()];
}

function open() {
  return new Promise((resolve, reject) => {
    const connection = new autobahn.Connection({
      url, realm: "wampchat", max_retries: 0, serializers: serializers(), authmethods: ["anonymous"],
    });
    connection.onopen = (session) => resolve({ connection, session });
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

async function main() {
  const a = await open();
  const b = await open();
  const result = {};

  // pub/sub: acknowledged publish, args and kwargs, exclude_me, publisher disclosure
  const events = [];
  let gotEvent;
  const eventSeen = new Promise((resolve) => { gotEvent = resolve; });
  await b.session.subscribe("app.js.topic", (args, kwargs, details) => {
    events.push({ args, kwargs, publisher: details.publisher });
    gotEvent();
  });
  const ownEvents = [];
  await a.session.subscribe("app.js.topic", (args) => ownEvents.push(args));
  const pub = await a.session.publish("app.js.topic", [1, "two"], { three: 3 }, { acknowledge: true });
  await eventSeen;
  result.publicationId = pub.id;
  result.events = events;
  result.publisherSession = a.session.id;
  result.ownEvents = ownEvents.length;

  // RPC: register, call, result
  await b.session.register("app.js.add", (args) => args[0] + args[1]);
  result.sum = await a.session.call("app.js.add", [2, 3]);

  // errors: unknown procedure, callee error with args/kwargs, not authorized
  await b.session.register("app.js.fail", () => { throw new autobahn.Error("app.error.x", [1], { a: 2 }); });
  result.noSuchProcedure = await errorOf(a.session.call("app.js.nobody"));
  result.calleeError = await errorOf(a.session.call("app.js.fail"));
  result.notAuthorized = await errorOf(a.session.publish("elsewhere.topic", [], {}, { acknowledge: true }));

  // progressive results
  await b.session.register("app.js.count", (args, kwargs, details) => {
    for (let i = 0; i < args[0]; i++) details.progress([i]);
    return "done";
  });
  const progress = [];
  result.progressFinal = await a.session.call("app.js.count", [3], {}, {
    receive_progress: true,
  }).then((res) => res, null, (p) => progress.push(p && p.args ? p.args[0] : p));
  result.progress = progress;

  // a Python peer: call its procedure and publish to its subscription
  result.fromPython = await a.session.call("app.py.echo", ["from node"]);
  await a.session.publish("app.py.inbox", ["hello python"], {}, { acknowledge: true });

  console.log(JSON.stringify(result));
  clearTimeout(deadline);
  a.connection.close();
  b.connection.close();
  setTimeout(() => process.exit(0), 50);
}

main().catch(fail);
