// A chat conversation driven by AutobahnJS in Node against a running wampchat.
//
// Usage: node chat_flow.js WS_URL PASSWORD
// Users "ann" and "bob" must already be registered with PASSWORD. Ann logs in
// with wampcra, Bob with ticket, and a guest "Gus" anonymously. The script
// prints one JSON line with what it observed and exits 0, or prints the
// error and exits 1. tests/test_chat_js.py runs it and checks the result.
"use strict";

const autobahn = require("autobahn");

const [url, password] = process.argv.slice(2);
const deadline = setTimeout(() => fail(new Error("timed out after 30 s")), 30000);

function fail(err) {
  console.error(err && err.error ? `${err.error} ${JSON.stringify(err.args)}` : String(err && err.stack || err));
  process.exit(1);
}

function open(options) {
  return new Promise((resolve, reject) => {
    const connection = new autobahn.Connection(Object.assign({
      url, realm: "wampchat", max_retries: 0,
    }, options));
    connection.onopen = (session) => resolve({ connection, session });
    connection.onclose = (reason, details) => {
      reject(new Error(`closed before join: ${reason} ${JSON.stringify(details)}`));
      return true; // do not retry
    };
    connection.open();
  });
}

function login(authid, method) {
  return open({
    authmethods: [method], authid,
    onchallenge: (session, m, extra) => {
      if (m === "ticket") return password;
      const key = autobahn.auth_cra.derive_key(password, extra.salt, extra.iterations, extra.keylen);
      return autobahn.auth_cra.sign(key, extra.challenge);
    },
  });
}

// Resolve once `topic` has delivered `count` events; the events' args[0].
function collect(session, topic) {
  const events = [];
  const waiters = [];
  return session.subscribe(topic, (args) => {
    events.push(args[0]);
    waiters.filter((w) => events.length >= w.count).forEach((w) => w.resolve(events.slice()));
  }).then(() => ({
    events,
    waitFor: (count) => new Promise((resolve) => {
      if (events.length >= count) resolve(events.slice());
      else waiters.push({ count, resolve });
    }),
  }));
}

async function main() {
  const ann = await login("ann", "wampcra");
  const bob = await login("bob", "ticket");
  const gus = await open({ authmethods: ["anonymous"], authextra: { nick: "Gus" } });
  const result = {};

  result.me = await ann.session.call("chat.user.me");
  result.guestMe = await gus.session.call("chat.user.me");

  // the lobby: everyone hears everyone
  await gus.session.call("chat.room.join", ["lobby"]);
  const lobby = await collect(gus.session, "chat.room.lobby.message");
  const hello = await ann.session.call("chat.message.send", ["lobby", "hello from node <b>!</b>"], { client_msg_id: "js-1" });
  const retry = await ann.session.call("chat.message.send", ["lobby", "hello from node <b>!</b>"], { client_msg_id: "js-1" });
  result.retrySame = retry.id === hello.id;
  result.lobbyEvents = await lobby.waitFor(1);

  // a private room: Bob is invited and hears it; the guest may not even subscribe
  const notify = await collect(bob.session, "chat.user.bob.notify");
  await ann.session.call("chat.room.create", ["jsroom"], { title: "JS room", private: true });
  await ann.session.call("chat.room.invite", ["jsroom", "bob"]);
  result.invite = (await notify.waitFor(1))[0];
  const priv = await collect(bob.session, "chat.room.jsroom.message");
  await ann.session.call("chat.message.send", ["jsroom", "members only"]);
  result.privateEvents = await priv.waitFor(1);
  result.guestSubscribe = await gus.session.subscribe("chat.room.jsroom.message", () => {})
    .then(() => "allowed", (e) => e.error);
  result.guestHistory = await gus.session.call("chat.message.history", ["jsroom"])
    .then(() => "allowed", (e) => e.error);
  result.guestPublish = await gus.session.publish("chat.room.lobby.message", [{ text: "forged" }], {}, { acknowledge: true })
    .then(() => "allowed", (e) => e.error);

  // a DM from the guest to Bob, and Bob's catch-up after a reconnect
  const dm = await gus.session.call("chat.dm.open", ["bob"]);
  result.dm = dm;
  const seen = (await bob.session.call("chat.message.history", [dm.id])).messages;
  bob.connection.close();
  const missed = [];
  for (let i = 0; i < 3; i++) missed.push((await gus.session.call("chat.message.send", [dm.id, `missed ${i}`])).id);
  const bob2 = await login("bob", "ticket");
  const after = seen.length ? seen[seen.length - 1].id : undefined;
  const page = await bob2.session.call("chat.message.history", [dm.id], after ? { after } : {});
  result.caughtUp = page.messages.map((m) => m.id);
  result.missed = missed;
  result.rooms = (await bob2.session.call("chat.room.list")).map((r) => ({ id: r.id, unread: r.unread }));

  // bad input over AutobahnJS gets the same URIs
  result.badText = await ann.session.call("chat.message.send", ["lobby", 42])
    .then(() => "allowed", (e) => e.error);
  result.badRoom = await ann.session.call("chat.message.send", ["nosuchroom", "hi"])
    .then(() => "allowed", (e) => e.error);

  console.log(JSON.stringify(result));
  clearTimeout(deadline);
  for (const c of [ann, gus, bob2]) c.connection.close();
  process.exit(0);
}

main().catch(fail);
