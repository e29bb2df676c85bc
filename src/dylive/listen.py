"""Listening sockets for the API service and the simulator, bound before the server starts.

Binding first turns "port already taken" into one :class:`ListenError` (a one-line message on
the command line) instead of a server task that dies with a traceback. ``SO_REUSEADDR`` lets a
restarted process take its port back at once while old connections sit in TIME-WAIT; it never
lets two processes listen on the same port.
"""

from __future__ import annotations

import errno
import socket

from dylive.errors import DyliveError


class ListenError(DyliveError):
    """The address cannot be listened on (taken, not local, not an address)."""


def bind_listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0 = any free port), ready for ``serve(sockets=…)``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, _type, proto, _name, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.set_inheritable(True)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ListenError(f"cannot listen on {host}:{port}: {reason or exc}") from None
    return sock


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def port_is_taken(host: str, port: int) -> bool:
    """True when another process listens on ``host:port`` (TIME-WAIT leftovers do not count)."""
    try:
        bind_listener(host, port).close()
    except ListenError:
        return True
    return False
