"""
The router's WebSocket and RawSocket transports: Autobahn's server protocols, tuned for a router.

What they add to Autobahn's, one module each:

- connection_guard.py: a cap on open connections per source address, and a deadline for the
  handshake and HELLO, shared by every listener of a process;
- outbound_budget.py: a bounded outbound buffer, so one client that does not read cannot make the
  router's memory grow;
- base.py: what both protocols share (the budget, the router's per-turn gathered writes, and ABORT
  ``wamp.error.protocol_violation`` for a malformed message instead of a bare close);
- websocket.py and websocket_frames.py: WAMP over WebSocket with a fast path for whole frames, and an
  EVENT framed once per serializer for every subscriber (see DESIGN.md, "Rules that keep it fast");
- rawsocket.py: WAMP over RawSocket.
"""
