// AutobahnJS logs in to wampchat with WAMP-Cryptosign (Ed25519, tweetnacl) and says who it is.
//
// Usage: node cryptosign_login.js WS_URL SEED_HEX [AUTHID]
//   SEED_HEX  the 32-byte private key seed, hex
// Prints one JSON line: {"joined": {authid, authrole, authmethod}, "me": <chat.user.me>} once it joined,
// or {"refused": "<reason>"} when the router refused it; exits 0 either way, 1 on anything else.
"use strict";

const autobahn = require("autobahn");
const nacl = require("tweetnacl");

const [url, seedHex, authid] = process.argv.slice(2);
const deadline = setTimeout(() => fail(new Error("timed out after 20 s")), 20000);

function fail(err) {
  console.error(String(err && err.stack || err));
  process.exit(1);
}

function done(line) {
  console.log(JSON.stringify(line));
  clearTimeout(deadline);
  process.exit(0);
}

const pkey = nacl.sign.keyPair.fromSeed(Uint8Array.from(Buffer.from(seedHex, "hex")));
const connection = new autobahn.Connection({
  url, realm: "wampchat", max_retries: 0, authmethods: ["cryptosign"], authid: authid || undefined,
  authextra: { pubkey: autobahn.auth_cryptosign.public_key(pkey) },
  onchallenge: (session, method, extra) => autobahn.auth_cryptosign.sign_challenge(pkey, extra),
});
connection.onopen = (session, details) => {
  session.call("chat.user.me").then((me) => done({
    joined: { authid: details.authid, authrole: details.authrole, authmethod: details.authmethod }, me,
  }), fail);
};
connection.onclose = (reason, details) => {
  done({ refused: details.reason || reason });
  return true;
};
connection.open();
