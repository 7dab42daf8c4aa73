"""
The kernel's floor for fan-out: CPU to write a prepared frame to many loopback sockets.

A router that delivers one event to N subscribers must at least hand N
frames to the kernel. This measures that part alone, with nothing of a
router in it: one process holds ``sockets`` connected loopback TCP sockets
(``TCP_NODELAY``, as the router's) and writes the same prepared
``frame_bytes``-byte frame to each, one ``send()`` per frame, then with
``k`` frames joined into one ``send()`` (what a router can do when several
events wait for one subscriber).

The floor is the cheapest the kernel can do, so the reading end does not
read while frames are written (a reader woken for every segment would add
its wake-up to each ``send()``): a second process holds the other ends and
drains them between rounds, each round small enough for the sockets'
buffers. CPU is the writing process's own (user + system,
``time.process_time``) during the rounds only, per frame.
"""
import multiprocessing
import os
import select
import socket
import time

DEFAULT_SOCKETS = 500
DEFAULT_FRAME_BYTES = 100
FRAMES_PER_SOCKET_PER_ROUND = 40    # 40 segments stay well inside a loopback socket's receive buffer


def _drain(listener: socket.socket, sockets: int, orders) -> None:
    """The far ends: accept ``sockets`` connections, then on each order (a byte count) read that many
    bytes from them in all and answer; None ends it."""
    conns = []
    for _ in range(sockets):
        conn, _addr = listener.accept()
        conn.setblocking(False)
        conns.append(conn)
    by_fd = {conn.fileno(): conn for conn in conns}
    poller = select.epoll()
    for fd in by_fd:
        poller.register(fd, select.EPOLLIN)
    orders.send("accepted")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        wanted = orders.recv()
        if wanted is None:
            break
        got = 0
        while got < wanted and time.monotonic() < deadline:
            for fd, _events in poller.poll(1.0):
                try:
                    got += len(by_fd[fd].recv(1 << 20))
                except BlockingIOError:
                    pass
        orders.send(got)
    for conn in conns:
        conn.close()


def _round(socks, payload: bytes, sends_per_socket: int) -> float:
    """CPU seconds of this process to send ``payload`` ``sends_per_socket`` times to every socket."""
    cpu0 = time.process_time()
    for _ in range(sends_per_socket):
        for sock in socks:
            sock.send(payload)
    return time.process_time() - cpu0


def measure(sockets: int = DEFAULT_SOCKETS, frame_bytes: int = DEFAULT_FRAME_BYTES, frames: int = 200_000,
            per_send=(1, 4, 10)) -> dict:
    """CPU per frame (us) written to ``sockets`` loopback sockets, for each count of frames per ``send()``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(sockets)
    ctx = multiprocessing.get_context("fork")
    orders, far = ctx.Pipe()
    drain = ctx.Process(target=_drain, args=(listener, sockets, far), daemon=True)
    drain.start()
    socks = []
    try:
        for _ in range(sockets):
            sock = socket.create_connection(listener.getsockname(), timeout=30)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(sock)
        if not orders.poll(30) or orders.recv() != "accepted":
            raise RuntimeError("the draining process did not accept every connection")
        frame = os.urandom(frame_bytes)
        result = {"sockets": sockets, "frame_bytes": frame_bytes}
        for k in (1,) + tuple(per_send):   # the first pass warms the connections up and is not kept
            sends = max(1, FRAMES_PER_SOCKET_PER_ROUND // k)
            rounds = max(1, frames // (sockets * sends * k))
            cpu = 0.0
            for _ in range(rounds):
                cpu += _round(socks, frame * k, sends)
                orders.send(sockets * sends * k * frame_bytes)
                if not orders.poll(60):
                    raise RuntimeError("the draining process did not read a round in 60 s")
                orders.recv()
            result[f"cpu_us_per_frame_{k}"] = cpu * 1e6 / (rounds * sockets * sends * k)
        return result
    finally:
        for sock in socks:
            sock.close()
        if drain.is_alive():
            orders.send(None)
        listener.close()
        drain.join(30)
        if drain.is_alive():
            drain.kill()


def floor_table(floor: dict) -> str:
    """The floor as text, one line per frames-per-send count."""
    lines = [f"kernel floor: a prepared {floor['frame_bytes']}-byte frame to {floor['sockets']} loopback sockets "
             "(the reader not reading while they are written)"]
    for key, value in floor.items():
        if key.startswith("cpu_us_per_frame_"):
            k = key.rsplit("_", 1)[1]
            lines.append(f"  {k:>2} frame{'s' if k != '1' else ' '} per send(): {value:.2f}us CPU per frame")
    return "\n".join(lines)


if __name__ == "__main__":
    print(floor_table(measure()))
