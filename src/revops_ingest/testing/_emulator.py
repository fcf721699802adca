"""A real HTTP server on loopback that pretends to be a vendor API.

Vendor emulators (Salesforce, HubSpot, Zendesk, ...) subclass :class:`Emulator` and
declare their endpoints with :func:`route`. Tests start one, point a source at
:attr:`Emulator.url`, and inject :class:`Fault` s to rehearse what goes wrong in
production: throttling, outages, slow responses, broken bodies, dropped connections.

Everything runs in-process on ``127.0.0.1``: a stdlib ``ThreadingHTTPServer`` on a
free port, one daemon thread per connection, HTTP/1.1 keep-alive so that
``requests``' connection pooling behaves as it does against the real vendor.
"""

from __future__ import annotations

import contextlib
import http.server
import json as _json
import re
import socket
import sys
import threading
import typing
import urllib.parse

import attrs
from requests.structures import CaseInsensitiveDict


if typing.TYPE_CHECKING:
    import types
    from collections.abc import Callable, Mapping

    from typing_extensions import Self


__all__ = [
    "Emulator",
    "Fault",
    "FaultHandle",
    "RecordedRequest",
    "Request",
    "Response",
    "route",
]

_ROUTES_ATTR = "__emulator_routes__"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NO_BODY_STATUSES = frozenset({204, 304})
_IDLE_TIMEOUT = 30.0  # seconds a kept-alive connection may sit idle


# ---------------------------------------------------------------- requests/responses


def _headers(pairs: Mapping[str, str] | None = None) -> CaseInsensitiveDict[str]:
    return CaseInsensitiveDict(pairs or {})


@attrs.frozen
class Request:
    """One HTTP request as the emulator received it.

    Attributes:
        method: The HTTP method, upper case.
        path: The path, percent-decoded, without the query string.
        query: The query string's parameters; every name maps to all its values.
        headers: The request headers; lookups ignore case.
        body: The request body, de-chunked.
    """

    method: str
    path: str
    query: dict[str, list[str]] = attrs.Factory(dict)
    headers: CaseInsensitiveDict[str] = attrs.field(
        factory=_headers, converter=_headers
    )
    body: bytes = b""

    def arg(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of query parameter *name*, or *default*."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> typing.Any:
        """Return the body parsed as JSON."""
        return _json.loads(self.body)

    def form(self) -> dict[str, str]:
        """Return the form-encoded body; a repeated field keeps its first value."""
        parsed = urllib.parse.parse_qs(
            self.body.decode("utf-8"), keep_blank_values=True
        )
        return {name: values[0] for name, values in parsed.items()}


@attrs.frozen
class RecordedRequest(Request):
    """A :class:`Request` in :attr:`Emulator.requests`, with the fault it met.

    Attributes:
        fault: The :class:`Fault` that was applied to this request, if any.
    """

    fault: Fault | None = None


@attrs.frozen
class Response:
    """What a route handler returns.

    The server adds ``Content-Length`` (and ``Date`` and ``Server``) itself.

    Attributes:
        status: The HTTP status code.
        body: The body bytes.
        headers: Extra response headers, such as ``Content-Type`` or ``Retry-After``.
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = attrs.Factory(dict)

    @classmethod
    def json(
        cls,
        obj: typing.Any,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Return *obj* serialized as a JSON response."""
        return cls(
            status=status,
            body=_json.dumps(obj, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    @classmethod
    def text(
        cls,
        text: str,
        status: int = 200,
        content_type: str = "text/plain; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Return *text* encoded as UTF-8 with *content_type*."""
        return cls(
            status=status,
            body=text.encode(),
            headers={"Content-Type": content_type, **(headers or {})},
        )

    @classmethod
    def empty(
        cls, status: int = 204, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Return a response without a body."""
        return cls(status=status, headers=dict(headers or {}))


# ---------------------------------------------------------------- routing

Handler: typing.TypeAlias = "Callable[..., Response]"


def _compile(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        return pattern
    pieces: list[str] = []
    last = 0
    for match in _PARAM.finditer(pattern):
        pieces.append(re.escape(pattern[last : match.start()]))
        pieces.append(f"(?P<{match.group(1)}>[^/]+)")
        last = match.end()
    pieces.append(re.escape(pattern[last:]))
    return re.compile("".join(pieces))


def route(method: str, pattern: str | re.Pattern[str]) -> Callable[[Handler], Handler]:
    """Declare an emulator method as the handler of *method* requests to *pattern*.

    *pattern* is either a path template whose ``{name}`` parts match one path
    segment each, or a compiled regular expression; either must match the whole
    path. Named parts (template names or regex groups) are passed to the handler as
    keyword arguments::

        @route("GET", "/services/data/v{version}/query")
        def query(self, request: Request, version: str) -> Response: ...

    A handler may carry several ``@route`` decorators.
    """
    compiled = _compile(pattern)

    def decorate(handler: Handler) -> Handler:
        routes: list[tuple[str, re.Pattern[str]]] = list(
            getattr(handler, _ROUTES_ATTR, ())
        )
        routes.append((method.upper(), compiled))
        setattr(handler, _ROUTES_ATTR, routes)
        return handler

    return decorate


# ---------------------------------------------------------------- faults


@attrs.frozen
class _Status:
    status: int
    body: bytes
    headers: Mapping[str, str]


@attrs.frozen
class _Delay:
    seconds: float


@attrs.frozen
class _Malformed:
    body: bytes | None


@attrs.frozen
class _Drop:
    pass


@attrs.frozen
class _DropMidBody:
    pass


_Action: typing.TypeAlias = "_Status | _Delay | _Malformed | _Drop | _DropMidBody"


def _body_bytes(body: bytes | str | object) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return _json.dumps(body, separators=(",", ":")).encode()


@attrs.frozen(kw_only=True)
class Fault:
    """Something that goes wrong with some of the requests an emulator receives.

    Build faults with the class methods (:meth:`status`, :meth:`delay`,
    :meth:`malformed`, :meth:`drop`, :meth:`drop_mid_body`) and hand them to
    :meth:`Emulator.inject`.

    Attributes:
        action: What happens to a faulted request.
        method: Only requests with this method match; ``None`` for any.
        path: A regular expression searched for in the request path; ``None`` matches
            every path.
        skip: How many matching requests pass through untouched first.
        times: How many matching requests are faulted after that; ``None`` for all.
    """

    action: _Action
    method: str | None = None
    path: str | None = None
    skip: int = 0
    times: int | None = 1

    def matches(self, method: str, path: str) -> bool:
        """Tell whether a request with *method* and *path* is one this fault targets."""
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or re.search(self.path, path) is not None

    @classmethod
    def status(
        cls,
        code: int,
        body: bytes | str | object = None,
        headers: Mapping[str, str] | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
        times: int | None = 1,
    ) -> Fault:
        """Answer with *code* instead of calling the handler.

        *body* may be bytes, text or a JSON-able object; by default it is
        ``{"error": "injected", "status": code}``. Put ``Retry-After`` and the like
        into *headers*.
        """
        if body is None:
            body = {"error": "injected", "status": code}
        content_type = (
            "application/json" if not isinstance(body, (bytes, str)) else "text/plain"
        )
        return cls(
            action=_Status(
                code,
                _body_bytes(body),
                {"Content-Type": content_type, **(headers or {})},
            ),
            method=method,
            path=path,
            skip=skip,
            times=times,
        )

    @classmethod
    def delay(
        cls,
        seconds: float,
        *,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
        times: int | None = 1,
    ) -> Fault:
        """Wait *seconds* before sending the normal response (to hit read timeouts)."""
        return cls(
            action=_Delay(seconds), method=method, path=path, skip=skip, times=times
        )

    @classmethod
    def malformed(
        cls,
        body: bytes | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
        times: int | None = 1,
    ) -> Fault:
        """Answer 200 with a body that is not valid JSON.

        By default that is the first half of the normal response's body.
        """
        return cls(
            action=_Malformed(body), method=method, path=path, skip=skip, times=times
        )

    @classmethod
    def drop(
        cls,
        *,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
        times: int | None = 1,
    ) -> Fault:
        """Close the connection without sending any response."""
        return cls(action=_Drop(), method=method, path=path, skip=skip, times=times)

    @classmethod
    def drop_mid_body(
        cls,
        *,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
        times: int | None = 1,
    ) -> Fault:
        """Send the normal headers and about half the body, then hang up."""
        return cls(
            action=_DropMidBody(), method=method, path=path, skip=skip, times=times
        )


@attrs.define(eq=False)
class FaultHandle:
    """An injected :class:`Fault` and how often it has struck.

    Attributes:
        fault: The fault.
        seen: Matching requests received so far, skipped ones included.
        fired: Requests the fault was applied to so far.
    """

    fault: Fault
    seen: int = 0
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        """Whether the fault will not fire again."""
        return self.fault.times is not None and self.fired >= self.fault.times

    def _take(self, method: str, path: str) -> bool:
        if not self.fault.matches(method, path):
            return False
        self.seen += 1
        if self.seen <= self.fault.skip or self.exhausted:
            return False
        self.fired += 1
        return True


# ---------------------------------------------------------------- the server


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    emulator: Emulator

    def handle_error(
        self,
        request: socket.socket | tuple[bytes, socket.socket],  # noqa: ARG002
        client_address: typing.Any,  # noqa: ARG002
    ) -> None:
        # Clients hanging up (timeouts, dropped faults) are routine here; anything
        # else is kept so that the test can fail loudly.
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):
            self.emulator._record_error(error)  # noqa: SLF001


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm
    # and the client's delayed ACK add 40 ms to every kept-alive response.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: typing.Any) -> None:  # noqa: A002
        """Stay quiet: tests read :attr:`Emulator.requests` instead."""

    def setup(self) -> None:
        super().setup()
        self.server.emulator._track(self.connection, add=True)  # noqa: SLF001

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the client is gone already
            super().finish()
        self.server.emulator._track(self.connection, add=False)  # noqa: SLF001

    def _serve(self) -> None:
        try:
            self.server.emulator._serve(self)  # noqa: SLF001
        except OSError:  # the client hung up (a timeout on its side, usually)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815


def _read_body(handler: _Handler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


class Emulator:
    """A vendor API served over real HTTP on loopback, with faults on demand.

    Subclass it and declare endpoints with :func:`route`::

        class Tickets(Emulator):
            @route("GET", "/api/v2/tickets/{id}.json")
            def ticket(self, request: Request, id: str) -> Response:
                return Response.json({"ticket": {"id": int(id)}})

        with Tickets() as api:
            requests.get(f"{api.url}/api/v2/tickets/7.json", timeout=5)

    An unknown path is answered with 404 ``{"error": "not_found", "path": ...}``, a
    known path with the wrong method with 405. A handler that raises is answered with
    500 and the exception is kept in :attr:`errors`.

    Attributes:
        host: The interface the server listens on.
        errors: Exceptions raised by handlers, oldest first.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.__port = port
        self.__lock = threading.Lock()
        self.__log: list[RecordedRequest] = []
        self.__faults: list[FaultHandle] = []
        self.__connections: set[socket.socket] = set()
        self.__stopping = threading.Event()
        self.__server: _Server | None = None
        self.__thread: threading.Thread | None = None
        self.errors: list[BaseException] = []
        self.__routes = self._collect_routes()

    def __repr__(self) -> str:
        state = self.url if self.__server is not None else "stopped"
        return f"<{type(self).__name__} {state}>"

    # -- lifecycle

    def start(self) -> Self:
        """Start serving on a background thread and return the emulator."""
        if self.__server is not None:
            return self
        self.__stopping.clear()
        server = _Server((self.host, self.__port), _Handler)
        server.emulator = self
        self.__server = server
        self.__thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"{type(self).__name__}-server",
            daemon=True,
        )
        self.__thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and hang up on every open connection."""
        server, self.__server = self.__server, None
        if server is None:
            return
        self.__stopping.set()
        server.shutdown()
        server.server_close()
        with self.__lock:
            connections = list(self.__connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self.__thread is not None:
            self.__thread.join(timeout=5)
            self.__thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on (after :meth:`start`)."""
        if self.__server is None:
            msg = f"{type(self).__name__} is not running; call start() first"
            raise RuntimeError(msg)
        return int(self.__server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, such as ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    # -- what happened

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self.__lock:
            return list(self.__log)

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        with self.__lock:
            self.__log.clear()

    def raise_errors(self) -> None:
        """Re-raise the first exception a handler raised, if any."""
        if self.errors:
            raise self.errors[0]

    # -- faults

    def inject(self, fault: Fault) -> FaultHandle:
        """Apply *fault* to the requests it matches; return its handle."""
        handle = FaultHandle(fault)
        with self.__lock:
            self.__faults.append(handle)
        return handle

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self.__lock:
            self.__faults.clear()

    # -- internals

    @classmethod
    def _collect_routes(cls) -> list[tuple[str, re.Pattern[str], str]]:
        seen: set[str] = set()
        routes: list[tuple[str, re.Pattern[str], str]] = []
        for klass in cls.__mro__:
            for name, attribute in vars(klass).items():
                if name in seen:
                    continue
                seen.add(name)
                for method, pattern in getattr(attribute, _ROUTES_ATTR, ()):
                    routes.append((method, pattern, name))
        return routes

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self.__lock:
            if add:
                self.__connections.add(connection)
            else:
                self.__connections.discard(connection)

    def _record_error(self, error: BaseException) -> None:
        with self.__lock:
            self.errors.append(error)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        fired: Fault | None = None
        with self.__lock:
            for handle in self.__faults:
                if handle._take(method, path) and fired is None:  # noqa: SLF001
                    fired = handle.fault
        return fired

    def _dispatch(self, request: Request) -> Response:
        allowed: list[str] = []
        for method, pattern, name in self.__routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            try:
                response = getattr(self, name)(request, **match.groupdict())
                if not isinstance(response, Response):
                    msg = (
                        f"{type(self).__name__}.{name} returned "
                        f"{type(response).__name__}, not a Response"
                    )
                    raise TypeError(msg)  # noqa: TRY301
            except Exception as error:  # noqa: BLE001 - reported, and kept in .errors
                self._record_error(error)
                return Response.json(
                    {
                        "error": "handler_error",
                        "type": type(error).__name__,
                        "message": str(error),
                    },
                    status=500,
                )
            return response
        if allowed:
            return Response.json(
                {"error": "method_not_allowed", "path": request.path},
                status=405,
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
        return Response.json({"error": "not_found", "path": request.path}, status=404)

    def _serve(self, handler: _Handler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        body = _read_body(handler)
        method = handler.command.upper()
        path = urllib.parse.unquote(split.path)
        fault = self._take_fault(method, path)
        request = RecordedRequest(
            method=method,
            path=path,
            query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
            headers=dict(handler.headers.items()),
            body=body,
            fault=fault,
        )
        with self.__lock:
            self.__log.append(request)
        action = fault.action if fault is not None else None

        if isinstance(action, _Drop):
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(action, _Status):
            _send(handler, Response(action.status, action.body, action.headers))
            return
        if isinstance(action, _Delay) and self.__stopping.wait(action.seconds):
            handler.close_connection = True
            return

        response = self._dispatch(request)
        if isinstance(action, _Malformed):
            response = Response(
                200,
                _malformed(response.body) if action.body is None else action.body,
                {"Content-Type": "application/json"},
            )
        elif isinstance(action, _DropMidBody):
            _send(handler, response, cut=max(1, len(response.body) // 2))
            handler.close_connection = True
            return
        _send(handler, response)


def _malformed(body: bytes) -> bytes:
    cut = body[: max(1, len(body) // 2)]
    try:
        _json.loads(cut)
    except ValueError:
        return cut
    return b'{"malformed": '


def _send(handler: _Handler, response: Response, *, cut: int | None = None) -> None:
    handler.send_response(response.status)
    has_body = response.status not in _NO_BODY_STATUSES and response.status >= 200  # noqa: PLR2004
    names = {name.lower() for name in response.headers}
    for name, value in response.headers.items():
        handler.send_header(name, value)
    if has_body and "content-length" not in names:
        handler.send_header("Content-Length", str(len(response.body)))
    handler.end_headers()
    if has_body and handler.command != "HEAD":
        handler.wfile.write(response.body if cut is None else response.body[:cut])
    handler.wfile.flush()
