// AutobahnJS in Node over WAMP long-poll only (no WebSocket) against a running wampchat.
//
// Usage: node longpoll_flow.js LP_URL USER PASSWORD
// USER logs in with ticket over {type: "longpoll", url: LP_URL}, prints
// {"subscribed", "me", "transport"} once it listens to the lobby, then
// {"event"} for the first lobby message, answers it, and exits 0 (1 on error).
// tests/test_longpoll.py runs it.
"use strict";

const http = require("http");
const autobahn = require("autobahn");

const [url, user, password] = process.argv.slice(2);
const deadline = setTimeout(() => fail(new Error("timed out after 45 s")), 45000);

function fail(err) {
  console.error(err && err.error ? `${err.error} ${JSON.stringify(err.args)}` : String(err && err.stack || err));
  process.exit(1);
}

// The part of the browser's XMLHttpRequest that AutobahnJS's longpoll transport uses, over node:http.
class NodeXMLHttpRequest {
  open(method, target) {
    this.method = method;
    this.target = target;
    this.headers = {};
    this.readyState = 1;
  }

  setRequestHeader(name, value) {
    this.headers[name] = value;
  }

  send(body) {
    const request = http.request(this.target, { method: this.method, headers: this.headers }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => {
        this.status = response.statusCode;
        this.statusText = response.statusMessage;
        this.responseText = Buffer.concat(chunks).toString("utf8");
        this.readyState = 4;
        this.onreadystatechange();
      });
    });
    if (this.timeout) {
      request.setTimeout(this.timeout, () => {
        request.destroy();
        if (this.ontimeout) this.ontimeout();
      });
    }
    request.on("error", (err) => {
      this.status = 0;
      this.statusText = String(err);
      this.readyState = 4;
      this.onreadystatechange();
    });
    request.end(body === undefined ? undefined : body);
  }
}
global.XMLHttpRequest = NodeXMLHttpRequest;

const connection = new autobahn.Connection({
  transports: [{ type: "longpoll", url }],
  realm: "wampchat",
  max_retries: 0,
  authmethods: ["ticket"],
  authid: user,
  onchallenge: () => password,
});

connection.onopen = (session, details) => {
  let me;
  Promise.resolve(session.call("chat.user.me"))
    .then((result) => { me = result; return session.call("chat.room.join", ["lobby"]); })
    .then(() => session.subscribe("chat.room.lobby.message", ([message]) => {
      console.log(JSON.stringify({ event: message }));
      Promise.resolve(session.call("chat.message.send", ["lobby", `${user} says hi back`]))
        .then(() => { clearTimeout(deadline); connection.close(); })
        .catch(fail);
    }))
    .then(() => console.log(JSON.stringify({ subscribed: true, me, transport: details.transport.type })))
    .catch(fail);
};

connection.onclose = (reason, details) => {
  if (reason === "closed") process.exit(0);
  fail(new Error(`closed: ${reason} ${JSON.stringify(details)}`));
  return true;
};

connection.open();
