"""The emulator framework: a real loopback server with routes, a log and faults."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from revops_ingest.testing._emulator import (
    Emulator,
    Fault,
    Request,
    Response,
    route,
)


TIMEOUT = (2, 2)


class Shop(Emulator):
    """A tiny API: items by id, versioned orders, a regex route and a broken handler."""

    def __init__(self, *, greeting: str = "hello", **kw):
        super().__init__(**kw)
        self.greeting = greeting

    @route("GET", "/items/{item_id}")
    def item(self, request: Request, item_id: str) -> Response:
        return Response.json({"id": item_id, "pad": "x" * 1000})

    @route("GET", "/v{version}/orders/{order_id}")
    def order(self, request: Request, version: str, order_id: str) -> Response:
        return Response.json({"version": version, "order": order_id})

    @route("GET", re.compile(r"/files/(?P<name>.+)\.csv"))
    def file(self, request: Request, name: str) -> Response:
        return Response.text(f"name\n{name}\n", content_type="text/csv")

    @route("POST", "/echo")
    def echo(self, request: Request) -> Response:
        return Response.json(
            {
                "query": request.query,
                "limit": request.arg("limit"),
                "missing": request.arg("missing", "dflt"),
                "header": request.headers.get("x-CUSTOM"),
                "json": request.json()
                if request.headers.get("content-type") == "application/json"
                else None,
                "form": request.form()
                if "form" in request.headers.get("content-type", "")
                else None,
            }
        )

    @route("GET", "/hello")
    def hello(self, request: Request) -> Response:
        return Response.text(self.greeting)

    @route("DELETE", "/items/{item_id}")
    def remove(self, request: Request, item_id: str) -> Response:
        return Response.empty(204)

    @route("GET", "/boom")
    def boom(self, request: Request) -> Response:
        raise ValueError("the handler broke")

    @route("GET", "/wrong")
    def wrong(self, request: Request) -> Response:
        return {"not": "a response"}  # type: ignore[return-value]


@pytest.fixture(name="shop")
def _shop(emulator_factory):
    return emulator_factory(Shop)


@pytest.fixture(name="session")
def _session():
    with requests.Session() as session:
        yield session


class TestRouting:
    def test_path_params_are_passed_as_keyword_arguments(self, shop, session):
        """A {name} part of a route template arrives as a keyword argument."""
        response = session.get(f"{shop.url}/v59.0/orders/801", timeout=TIMEOUT)

        assert {"version": "59.0", "order": "801"} == response.json()

    def test_regex_routes_pass_named_groups(self, shop, session):
        """A compiled regex route passes its named groups to the handler."""
        response = session.get(f"{shop.url}/files/a/b.csv", timeout=TIMEOUT)

        assert "name\na/b\n" == response.text
        assert "text/csv" == response.headers["Content-Type"]

    def test_unknown_path_is_404_json(self, shop, session):
        """A path no route matches is answered 404 with the path in a JSON body."""
        response = session.get(f"{shop.url}/nowhere?x=1", timeout=TIMEOUT)

        assert 404 == response.status_code
        assert {"error": "not_found", "path": "/nowhere"} == response.json()

    def test_known_path_with_other_method_is_405(self, shop, session):
        """A path routed for other methods is answered 405 with an Allow header."""
        response = session.put(f"{shop.url}/items/1", timeout=TIMEOUT)

        assert 405 == response.status_code
        assert "DELETE, GET" == response.headers["Allow"]

    def test_handler_exception_is_500_and_kept(self, shop, session):
        """A handler that raises gives a 500 naming the error, and lands in errors."""
        response = session.get(f"{shop.url}/boom", timeout=TIMEOUT)

        assert 500 == response.status_code
        assert "the handler broke" == response.json()["message"]
        assert ["the handler broke"] == [str(e) for e in shop.errors]
        with pytest.raises(ValueError, match="the handler broke"):
            shop.raise_errors()
        shop.errors.clear()  # provoked on purpose

    def test_handler_returning_no_response_is_500(self, shop, session):
        """A handler that returns something else than a Response is a 500 too."""
        response = session.get(f"{shop.url}/wrong", timeout=TIMEOUT)

        assert 500 == response.status_code
        assert "TypeError" == response.json()["type"]
        assert isinstance(shop.errors[0], TypeError)
        shop.errors.clear()  # provoked on purpose

    def test_subclass_constructor_arguments(self, emulator_factory, session):
        """The factory passes keyword arguments to the emulator's constructor."""
        shop = emulator_factory(Shop, greeting="bonjour")

        assert "bonjour" == session.get(f"{shop.url}/hello", timeout=TIMEOUT).text


class TestRequestAndResponse:
    def test_request_helpers(self, shop, session):
        """Query args, case-insensitive headers and the JSON body are readable."""
        response = session.post(
            f"{shop.url}/echo?limit=5&tag=a&tag=b",
            json={"a": 1},
            headers={"X-Custom": "yes"},
            timeout=TIMEOUT,
        )

        assert {
            "query": {"limit": ["5"], "tag": ["a", "b"]},
            "limit": "5",
            "missing": "dflt",
            "header": "yes",
            "json": {"a": 1},
            "form": None,
        } == response.json()

    def test_form_bodies(self, shop, session):
        """A form-encoded body is read with form()."""
        response = session.post(
            f"{shop.url}/echo", data={"grant_type": "x", "n": "1"}, timeout=TIMEOUT
        )

        assert {"grant_type": "x", "n": "1"} == response.json()["form"]

    def test_empty_response_has_no_body(self, shop, session):
        """Response.empty(204) sends no body."""
        response = session.delete(f"{shop.url}/items/1", timeout=TIMEOUT)

        assert (204, b"") == (response.status_code, response.content)

    def test_content_length_is_sent(self, shop, session):
        """The server always sends Content-Length for bodies."""
        response = session.get(f"{shop.url}/items/1", timeout=TIMEOUT)

        assert str(len(response.content)) == response.headers["Content-Length"]

    def test_response_constructors(self):
        """Response.json and Response.text set the body and the content type."""
        as_json = Response.json({"a": 1}, status=201, headers={"X-A": "1"})
        as_text = Response.text("hi")

        assert (201, {"a": 1}) == (as_json.status, json.loads(as_json.body))
        assert {"Content-Type": "application/json", "X-A": "1"} == as_json.headers
        assert (b"hi", "text/plain; charset=utf-8") == (
            as_text.body,
            as_text.headers["Content-Type"],
        )


class TestRequestLog:
    def test_requests_are_logged_in_order(self, shop, session):
        """Every request is recorded with method, path, query and headers."""
        session.get(f"{shop.url}/items/1?x=2", timeout=TIMEOUT)
        session.get(f"{shop.url}/nowhere", timeout=TIMEOUT)

        log = shop.requests
        assert [("GET", "/items/1"), ("GET", "/nowhere")] == [
            (r.method, r.path) for r in log
        ]
        assert {"x": ["2"]} == log[0].query
        assert log[0].headers["user-agent"].startswith("python-requests")

    def test_clear_requests(self, shop, session):
        """clear_requests empties the log."""
        session.get(f"{shop.url}/items/1", timeout=TIMEOUT)
        shop.clear_requests()

        assert [] == shop.requests


class TestFaults:
    def test_skip_and_times(self, shop, session):
        """A fault lets `skip` matching requests through, then hits `times` of them."""
        handle = shop.inject(Fault.status(503, skip=1, times=2))

        statuses = [
            session.get(f"{shop.url}/items/1", timeout=TIMEOUT).status_code
            for _ in range(5)
        ]

        assert [200, 503, 503, 200, 200] == statuses
        assert (2, 5, True) == (handle.fired, handle.seen, handle.exhausted)

    def test_times_none_is_forever(self, shop, session):
        """times=None faults every matching request until cleared."""
        handle = shop.inject(Fault.status(500, times=None))
        for _ in range(3):
            session.get(f"{shop.url}/items/1", timeout=TIMEOUT)
        shop.clear_faults()

        assert 200 == session.get(f"{shop.url}/items/1", timeout=TIMEOUT).status_code
        assert 3 == handle.fired

    def test_matching_by_method_and_path(self, shop, session):
        """Only requests with the fault's method and a path matching its regex count."""
        handle = shop.inject(Fault.status(429, method="GET", path=r"^/v\d+"))

        other = session.get(f"{shop.url}/items/1", timeout=TIMEOUT)
        post = session.post(f"{shop.url}/echo", json={}, timeout=TIMEOUT)
        hit = session.get(f"{shop.url}/v1/orders/2", timeout=TIMEOUT)

        assert (200, 200, 429) == (
            other.status_code,
            post.status_code,
            hit.status_code,
        )
        assert (1, 1) == (handle.seen, handle.fired)

    def test_status_fault_body_and_headers(self, shop, session):
        """A status fault sends its body and headers, such as Retry-After."""
        shop.inject(Fault.status(429, {"e": "slow"}, headers={"Retry-After": "3"}))

        response = session.get(f"{shop.url}/items/1", timeout=TIMEOUT)

        assert (429, {"e": "slow"}, "3") == (
            response.status_code,
            response.json(),
            response.headers["Retry-After"],
        )

    def test_faulted_requests_are_logged_with_their_fault(self, shop, session):
        """The request log says which fault hit which request."""
        fault = Fault.status(503)
        shop.inject(fault)
        session.get(f"{shop.url}/items/1", timeout=TIMEOUT)
        session.get(f"{shop.url}/items/1", timeout=TIMEOUT)

        assert [fault, None] == [r.fault for r in shop.requests]

    def test_skip_counts_requests_hit_by_other_faults(self, shop, session):
        """Each fault counts every matching request, even ones another fault hit."""
        shop.inject(Fault.status(500))
        shop.inject(Fault.status(502, skip=1))

        statuses = [
            session.get(f"{shop.url}/items/1", timeout=TIMEOUT).status_code
            for _ in range(3)
        ]

        assert [500, 502, 200] == statuses

    def test_delay_causes_read_timeouts(self, shop, session):
        """A delay fault holds the response back past a short read time-out."""
        shop.inject(Fault.delay(1.0))

        with pytest.raises(requests.ReadTimeout):
            session.get(f"{shop.url}/items/1", timeout=(1, 0.1))
        assert 200 == session.get(f"{shop.url}/items/1", timeout=TIMEOUT).status_code

    def test_malformed_sends_invalid_json(self, shop, session):
        """A malformed fault answers 200 with the front half of the real body."""
        shop.inject(Fault.malformed())

        response = session.get(f"{shop.url}/items/1", timeout=TIMEOUT)

        assert 200 == response.status_code
        assert response.content.startswith(b'{"id":"1","pad":"xxx')
        with pytest.raises(ValueError):
            response.json()

    def test_drop_closes_without_response(self, shop, session):
        """A drop fault hangs up before any response."""
        shop.inject(Fault.drop())

        with pytest.raises(requests.ConnectionError):
            session.get(f"{shop.url}/items/1", timeout=TIMEOUT)
        assert 200 == session.get(f"{shop.url}/items/1", timeout=TIMEOUT).status_code

    def test_drop_mid_body_breaks_the_body(self, shop, session):
        """A drop_mid_body fault sends the real Content-Length and half the body."""
        shop.inject(Fault.drop_mid_body())

        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            session.get(f"{shop.url}/items/1", timeout=TIMEOUT)
        assert 200 == session.get(f"{shop.url}/items/1", timeout=TIMEOUT).status_code


class TestLifecycle:
    def test_url_and_context_manager(self):
        """A started emulator has a loopback URL; after stop it refuses connections."""
        with Shop() as shop:
            url = shop.url
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
            assert 200 == requests.get(f"{url}/items/1", timeout=TIMEOUT).status_code

        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/items/1", timeout=TIMEOUT)
        with pytest.raises(RuntimeError, match="not running"):
            _ = shop.url

    def test_stop_interrupts_delays(self):
        """Stopping does not wait for delayed responses to finish."""
        shop = Shop().start()
        shop.inject(Fault.delay(30))
        with pytest.raises(requests.ReadTimeout):
            requests.get(f"{shop.url}/items/1", timeout=(1, 0.1))

        began = time.monotonic()
        shop.stop()

        assert time.monotonic() - began < 5

    def test_start_and_stop_are_idempotent(self):
        """Starting twice or stopping twice does no harm."""
        shop = Shop()

        assert shop is shop.start().start()
        shop.stop()
        shop.stop()
        assert "<Shop stopped>" == repr(shop)
