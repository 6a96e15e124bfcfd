"""The address ``feedsvc serve`` listens on: parsing ``--bind``, and making sure the port is ours.

granian binds one socket per worker with SO_REUSEPORT, so on Linux a second server on a port in
use would start silently and the kernel would split the connections between the two. Before
starting, :func:`claim` therefore (1) takes an exclusive claim on the address, an abstract Unix
socket named after it, which another ``feedsvc serve`` cannot take while this one runs, even
during the minutes a first index may take, and (2) binds a probe socket without SO_REUSEPORT,
which fails while any program listens on the port. ``--reuse-port`` skips both, for an operator
who wants two servers on one port (a new version started before the old one is stopped).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from dataclasses import dataclass

# A small backlog is enough for the claim socket: it only ever answers "who holds this?".
CLAIM_BACKLOG = 8
CLAIM_TIMEOUT_SECONDS = 1.0
WILDCARDS = ("0.0.0.0", "::")


class BindError(ValueError):
    """``--bind`` cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class Address:
    """Where to listen: the host as the operator wrote it, and what it resolved to."""

    host: str  # a name or an IP literal, without brackets
    port: int
    ip: str  # the address granian binds
    family: socket.AddressFamily

    @property
    def url(self) -> str:
        """The site URL this address stands for (``http://[::1]:8000``, ``http://localhost:8000``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def is_wildcard(self) -> bool:
        return self.ip in WILDCARDS

    def __str__(self) -> str:
        return self.url.removeprefix("http://")


def parse(bind: str) -> Address:
    """``HOST:PORT`` (a name, an IPv4 address or a bracketed IPv6 address) as an Address.

    The host is resolved once, here; the first address the resolver prefers is used. Raises
    BindError with a one-line reason.
    """
    shape = (
        f"--bind {bind!r} must look like HOST:PORT, "
        "e.g. 127.0.0.1:8000, localhost:8000 or [::1]:8000"
    )
    host, sep, port_text = bind.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise BindError(f"{shape}; the port is a number from 1 to 65535")
    if host.startswith("["):
        if not host.endswith("]"):
            raise BindError(shape)
        host = host[1:-1]
        if not _is_ip(host, 6):
            raise BindError(f"--bind {bind!r}: {host!r} in brackets must be an IPv6 address")
    elif ":" in host:
        raise BindError(f"{shape}; write an IPv6 address in brackets, e.g. [{host}]:{port_text}")
    port = int(port_text)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise BindError(f"--bind {bind!r}: cannot resolve {host!r} ({reason})") from None
    family, _, _, _, sockaddr = found[0]
    return Address(host, port, str(sockaddr[0]), socket.AddressFamily(family))


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


class Claim:
    """Holds an address for this process until :meth:`release` or exit (the kernel frees it)."""

    def __init__(self, sock: socket.socket | None) -> None:
        self._sock = sock

    def release(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def claim(address: Address, *, reuse_port: bool = False) -> Claim:
    """Make sure no other server listens on ``address``; raises BindError saying who does."""
    if reuse_port:
        return Claim(None)
    name = f"\0feedsvc-serve {address.ip} {address.port}".encode()
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        holder.bind(name)
    except OSError as exc:
        holder.close()
        if exc.errno != errno.EADDRINUSE:
            raise
        pid = _claimant_pid(name)
        who = f" (pid {pid})" if pid else ""
        raise BindError(
            f"{address} is already in use by another feedsvc serve{who}; stop it or choose "
            "another --bind (--reuse-port shares the port on purpose)"
        ) from None
    holder.listen(CLAIM_BACKLOG)
    try:
        _probe(address)
    except BaseException:
        holder.close()
        raise
    return Claim(holder)


def _claimant_pid(name: bytes) -> int | None:
    """The pid of the process holding the claim, from the kernel's credentials of its socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(CLAIM_TIMEOUT_SECONDS)
        try:
            sock.connect(name)
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        except OSError:
            return None
    return struct.unpack("3i", creds)[0]


def _probe(address: Address) -> None:
    """Bind without SO_REUSEPORT: the kernel refuses while anything listens on the port.

    SO_REUSEADDR is set so that connections of a server just stopped (TIME_WAIT) do not count.
    """
    with socket.socket(address.family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address.ip, address.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise BindError(
                    f"{address} is already in use by another program; stop it or choose "
                    "another --bind"
                ) from None
            raise BindError(f"cannot listen on {address}: {exc.strerror}") from None
