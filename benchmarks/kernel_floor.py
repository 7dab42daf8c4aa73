"""
The kernel's floor for fan-out: CPU to write a prepared frame to many loopback sockets.

A router that delivers one event to N subscribers must at least hand N
frames to the kernel. This measures that part alone, with nothing of a
router in it: one process holds ``sockets`` connected loopback TCP sockets
and writes the same prepared ``frame_bytes``-byte frame to each, one
``send()`` per frame, then with ``k`` frames joined into one ``send()``
(what a router can do when several events wait for one subscriber). A
second process reads and discards everything, so its CPU is not counted.
CPU is the writing process's own (user + system, ``time.process_time``),
per frame. The fan-out rows compare the router's CPU per delivered event
with the one-send-per-frame figure of the same run.
"""
import multiprocessing
import os
import select
import socket
import time

DEFAULT_SOCKETS = 500
DEFAULT_FRAME_BYTES = 100


def _drain(listener: socket.socket, sockets: int, ready) -> None:
    """Accept ``sockets`` connections and read them until every one is closed (the discarding peer)."""
    poller = select.epoll()
    conns = {}
    for _ in range(sockets):
        conn, _addr = listener.accept()
        conn.setblocking(False)
        conns[conn.fileno()] = conn
        poller.register(conn.fileno(), select.EPOLLIN)
    ready.set()
    deadline = time.monotonic() + 600
    while conns and time.monotonic() < deadline:
        for fd, _events in poller.poll(1.0):
            conn = conns[fd]
            try:
                data = conn.recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                poller.unregister(fd)
                conn.close()
                del conns[fd]


def _write_all(socks, payload: bytes, rounds: int) -> float:
    """CPU seconds of this process to send ``payload`` ``rounds`` times to every socket."""
    cpu0 = time.process_time()
    for _ in range(rounds):
        for sock in socks:
            sock.sendall(payload)
    return time.process_time() - cpu0


def measure(sockets: int = DEFAULT_SOCKETS, frame_bytes: int = DEFAULT_FRAME_BYTES, frames: int = 200_000,
            per_send=(1, 4, 10)) -> dict:
    """CPU per frame (us) written to ``sockets`` loopback sockets, for each count of frames per ``send()``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(sockets)
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    drain = ctx.Process(target=_drain, args=(listener, sockets, ready), daemon=True)
    drain.start()
    socks = []
    try:
        for _ in range(sockets):
            sock = socket.create_connection(listener.getsockname(), timeout=30)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(sock)
        if not ready.wait(30):
            raise RuntimeError("the draining process did not accept every connection")
        frame = os.urandom(frame_bytes)
        _write_all(socks, frame, 2)   # warm up: the first writes on a connection cost more
        result = {"sockets": sockets, "frame_bytes": frame_bytes}
        for k in per_send:
            rounds = max(1, frames // (sockets * k))
            cpu = _write_all(socks, frame * k, rounds)
            result[f"cpu_us_per_frame_{k}"] = cpu * 1e6 / (rounds * sockets * k)
        return result
    finally:
        for sock in socks:
            sock.close()
        listener.close()
        drain.join(30)
        if drain.is_alive():
            drain.kill()


def floor_table(floor: dict) -> str:
    """The floor as text, one line per frames-per-send count."""
    lines = [f"kernel floor: a prepared {floor['frame_bytes']}-byte frame to {floor['sockets']} loopback sockets"]
    for key, value in floor.items():
        if key.startswith("cpu_us_per_frame_"):
            k = key.rsplit("_", 1)[1]
            lines.append(f"  {k:>2} frame{'s' if k != '1' else ' '} per send(): {value:.2f}us CPU per frame")
    return "\n".join(lines)


if __name__ == "__main__":
    print(floor_table(measure()))
