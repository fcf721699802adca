"""The Zendesk source against the Zendesk emulator, over its socket.

The emulator's clock stands still until a test moves it. Sources get the emulator's
clock and a sleep that moves it on, so pacing and ``Retry-After`` waits cost no real
time. The exports leave out the last minute, so tests move the clock on 61 seconds
after a change before syncing.
"""

from __future__ import annotations

import collections
import uuid

import hypothesis
import hypothesis.strategies as st
import pyarrow as pa
import pytest

import revops_ingest
from revops_ingest.exceptions import (
    AuthenticationError,
    ConfigurationError,
    UnexpectedResponseError,
)
from revops_ingest.http import RetryPolicy
from revops_ingest.sources.zendesk import ZendeskSource, raw_schema
from revops_ingest.testing import Fault, ZendeskEmulator


FAST = RetryPolicy(initial_wait=0.01, max_wait=0.05, max_time=600, jitter=False)
SYNC_LOG = "/RevOps/Audit/sync_log"
TICKETS = "/Zendesk/Raw/Tickets"
USERS = "/Zendesk/Raw/Users"
ORGS = "/Zendesk/Raw/Organizations"
TS = pa.timestamp("ms", tz="UTC")


@pytest.fixture(name="zd")
def _zd(emulator_factory):
    emulator = emulator_factory(ZendeskEmulator, seed=7)
    emulator.advance(61)
    return emulator


@pytest.fixture(name="make_source")
def _make_source(zd, waits):
    made = []

    def sleep(seconds):
        waits.append(seconds)
        zd.advance(seconds)

    def make(**kw):
        kw.setdefault("base_url", zd.url)
        if "oauth_token" not in kw:
            kw.setdefault("email", zd.email)
            kw.setdefault("api_token", zd.api_token)
        kw.setdefault("page_size", 20)
        kw.setdefault("retry", FAST)
        source = ZendeskSource(sleep=sleep, clock=zd.epoch, **kw)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def sync(source, lake, obj="tickets", **kw):
    return revops_ingest.sync(
        source, obj, lake, progress=False, refresh_status=False, **kw
    )


def rows(lake, dataset=TICKETS, columns=None):
    return lake.read(dataset, columns=columns).to_pylist()


def last_audit(lake):
    return lake.read(SYNC_LOG).to_pylist()[-1]


def exports(emulator, resource="tickets/cursor"):
    return [
        r for r in emulator.requests if r.path == f"/api/v2/incremental/{resource}.json"
    ]


def latest(table, stamp):
    """The latest row per id: the highest stamp, then the latest sync, then last."""
    found = {}
    for index, row in enumerate(table.to_pylist()):
        key = (row[stamp], row["_sync_id"], index)
        if row["id"] not in found or key >= found[row["id"]][0]:
            found[row["id"]] = (key, row)
    return {record_id: row for record_id, (_, row) in found.items()}


def end_user(zd):
    return next(u for u in sorted(zd.records["users"].values(), key=lambda u: u["id"]))


class TestFirstSync:
    def test_lands_every_ticket_once_typed(self, zd, lake, make_source):
        """A first sync lands each ticket once into /Zendesk/Raw/Tickets, typed."""
        run = sync(make_source(), lake)

        landed = [r["id"] for r in rows(lake, columns=["id"])]
        assert sorted(zd.records["tickets"]) == sorted(landed)
        assert ("success", TICKETS) == (run.status, run.dataset)
        schema = lake.schema(TICKETS)
        assert pa.int64() == schema.field("id").type
        assert TS == schema.field("generated_timestamp").type
        assert pa.list_(pa.string()) == schema.field("tags").type
        assert pa.string() == schema.field("custom_fields").type

    def test_values_match_the_emulator(self, zd, lake, make_source):
        """Field values, JSON columns and sideloaded metric sets land as sent."""
        sync(make_source(), lake)

        ticket_id = min(zd.records["tickets"])
        row = next(r for r in rows(lake) if r["id"] == ticket_id)
        ticket = zd.records["tickets"][ticket_id]
        metrics = zd.metric_sets[ticket_id]
        assert (ticket["status"], ticket["requester_id"], ticket["tags"]) == (
            row["status"],
            row["requester_id"],
            row["tags"],
        )
        assert ticket["via"]["channel"] == row["via_channel"]
        assert (
            metrics["full_resolution_time_in_minutes"]["calendar"]
            == row["metric_full_resolution_time_in_minutes"]
        )
        assert ticket["generated_timestamp"] == int(
            row["generated_timestamp"].timestamp()
        )

    def test_an_all_null_column_keeps_its_type(self, zd, lake, make_source):
        """A column null on every row keeps its declared type."""
        sync(make_source(include_metric_sets=False), lake)

        table = lake.read(TICKETS)
        assert table.column("metric_solved_at").null_count == table.num_rows
        assert TS == table.schema.field("metric_solved_at").type
        assert raw_schema("tickets").names == table.column_names[:-1]

    @pytest.mark.parametrize(
        ("obj", "dataset"), [("users", USERS), ("organizations", ORGS)]
    )
    def test_users_and_organizations(self, zd, lake, make_source, obj, dataset):
        """Users and organizations land once each in their capitalised datasets."""
        run = sync(make_source(), lake, obj)

        assert dataset == run.dataset
        assert sorted(zd.records[obj]) == sorted(
            r["id"] for r in rows(lake, dataset, ["id"])
        )


class TestIncremental:
    def test_a_second_sync_lands_only_the_changes(self, zd, lake, make_source):
        """After a first sync, only the tickets changed since land, from the cursor."""
        source = make_source()
        sync(source, lake)
        cursor = lake.state(TICKETS)["cursor"]
        changed = sorted(zd.records["tickets"])[:2]
        for ticket_id in changed:
            zd.update_ticket(ticket_id, priority="urgent")
        zd.advance(61)

        run = sync(source, lake)

        assert 2 == run.records_processed
        assert [cursor] == [r.arg("cursor") for r in exports(zd)[-1:]]
        assert changed == sorted(r["id"] for r in rows(lake)[-2:])

    def test_nothing_changed_lands_nothing(self, zd, lake, make_source):
        """A sync with no changes lands no rows and keeps the cursor."""
        source = make_source()
        sync(source, lake)
        state = lake.state(TICKETS)

        assert 0 == sync(source, lake).records_processed
        assert state == lake.state(TICKETS)

    def test_a_system_update_is_caught(self, zd, lake, make_source):
        """A change that moves only generated_timestamp (not updated_at) lands."""
        source = make_source()
        sync(source, lake)
        ticket_id = min(zd.records["tickets"])
        before = zd.records["tickets"][ticket_id]["updated_at"]
        zd.system_update_ticket(ticket_id, tags=["sla-breached"])
        zd.advance(61)

        run = sync(source, lake)

        (row,) = rows(lake)[-1:]
        assert (1, ticket_id, ["sla-breached"]) == (
            run.records_processed,
            row["id"],
            row["tags"],
        )
        assert before == row["updated_at"].strftime("%Y-%m-%dT%H:%M:%SZ")

    def test_a_change_in_the_last_minute_lands_next_time(self, zd, lake, make_source):
        """The export leaves out the last minute; the cursor picks it up later."""
        source = make_source()
        sync(source, lake)
        zd.update_ticket(min(zd.records["tickets"]), status="open")

        assert 0 == sync(source, lake).records_processed
        zd.advance(61)
        assert 1 == sync(source, lake).records_processed

    def test_a_deleted_ticket_lands_as_a_tombstone(self, zd, lake, make_source):
        """A ticket deleted in Zendesk lands with status deleted and _tombstone."""
        source = make_source()
        sync(source, lake)
        victim = sorted(zd.records["tickets"])[3]
        zd.delete_ticket(victim)
        zd.advance(61)

        sync(source, lake)

        row = latest(lake.read(TICKETS), "generated_timestamp")[victim]
        assert ("deleted", True) == (row["status"], row["_tombstone"])
        live = [r for r in rows(lake) if not r["_tombstone"]]
        assert victim not in {r["id"] for r in live[len(zd.records["tickets"]) :]}

    def test_the_boundary_second_is_not_landed_twice(self, zd, lake, make_source):
        """Users re-sent for the inclusive start_time second are dropped."""
        source = make_source()
        sync(source, lake, "users")
        start = lake.state(USERS)["start_time"]
        zd.advance(61)

        run = sync(source, lake, "users")

        assert 0 == run.records_processed
        assert str(start) == exports(zd, "users")[-1].arg("start_time")
        landed = [r["id"] for r in rows(lake, USERS, ["id"])]
        assert len(landed) == len(set(landed))

    def test_a_change_on_the_boundary_second_lands(self, zd, lake, make_source):
        """A user changed later than the boundary second lands once."""
        source = make_source()
        sync(source, lake, "users")
        user_id = min(zd.records["users"])
        zd.update_user(user_id, name="Renamed")
        zd.advance(61)

        run = sync(source, lake, "users")

        assert 1 == run.records_processed
        assert "Renamed" == rows(lake, USERS)[-1]["name"]

    @pytest.mark.parametrize("obj", ["users", "organizations"])
    def test_more_than_a_page_in_one_second(self, zd, lake, make_source, obj):
        """1,050 records in one second: no endless loop, none lost, none twice."""
        source = make_source()
        sync(source, lake, obj)
        zd.advance(30)
        if obj == "users":
            new = zd.create_users(1050, min(zd.records["organizations"]))
        else:
            new = [zd.create_organization() for _ in range(1050)]
        zd.advance(61)

        run = sync(source, lake, obj)

        landed = [r["id"] for r in rows(lake, USERS if obj == "users" else ORGS)]
        assert 1050 == run.records_processed
        assert set(new) <= set(landed)
        assert len(set(landed)) == len(landed)
        assert any("more records share updated_at" in w for w in run.warnings)
        assert len(exports(zd, obj)) < 10
        assert 0 == sync(source, lake, obj).records_processed


class TestRateLimits:
    def test_exports_are_paced_to_ten_a_minute(self, zd, lake, make_source, waits):
        """Twelve export pages are paced so that the 10/min limit is never hit."""
        run = sync(make_source(page_size=5), lake)

        assert 12 == len(exports(zd))
        assert 0 == zd.throttled
        assert sum(waits) >= 59
        assert run.wait_seconds == pytest.approx(sum(waits))

    def test_a_429_retry_after_is_waited_out(self, zd, lake, make_source, waits):
        """Without pacing, the emulator's 429s are waited out for Retry-After."""
        run = sync(make_source(page_size=5, export_requests_per_minute=None), lake)

        assert zd.throttled > 0
        assert run.retries == zd.throttled
        assert all(w >= 1 for w in waits)
        assert len(zd.records["tickets"]) == run.records_processed

    def test_an_injected_429_honours_its_header(self, zd, lake, make_source, waits):
        """A 429 with Retry-After: 7 is retried after exactly 7 seconds."""
        zd.inject(
            Fault.status(
                429, {"error": "APIRateLimitExceeded"}, {"Retry-After": "7"}, times=1
            )
        )

        run = sync(make_source(), lake)

        assert [7.0] == waits
        assert ("success", 1) == (run.status, run.retries)

    def test_account_usage_lands_in_the_audit_row(self, zd, lake, make_source):
        """X-Rate-Limit and X-Rate-Limit-Remaining become the audit's quota columns."""
        run = sync(make_source(), lake)

        assert 700 == run.api_quota_limit
        assert run.api_quota_used >= 1


class TestAuth:
    def test_an_oauth_token_is_sent_as_bearer(self, zd, lake, make_source):
        """oauth_token= syncs with Authorization: Bearer."""
        run = sync(make_source(oauth_token=zd.oauth_token), lake)

        assert "success" == run.status
        assert f"Bearer {zd.oauth_token}" == zd.requests[-1].headers["Authorization"]

    def test_bad_credentials_fail_the_sync(self, zd, lake, make_source):
        """A refused API token is an AuthenticationError naming basic auth."""
        source = make_source(api_token="wrong-token")

        with pytest.raises(AuthenticationError) as info:
            sync(source, lake)

        error = info.value
        assert ("basic auth", 401) == (error.grant, error.status)
        assert "Couldn't authenticate you" in str(error)
        assert "wrong-token" not in str(error)
        audit = last_audit(lake)
        assert ("failed", "AuthenticationError") == (
            audit["status"],
            audit["error_type"],
        )
        assert not lake.exists(TICKETS)

    def test_a_bad_oauth_token_names_bearer(self, zd, lake, make_source):
        """A refused OAuth token is an AuthenticationError naming the bearer token."""
        with pytest.raises(AuthenticationError) as info:
            sync(make_source(oauth_token="expired"), lake)

        assert "bearer token" == info.value.grant

    @pytest.mark.parametrize(
        "kw",
        [
            {},
            {"email": "a@b.c", "api_token": "t", "oauth_token": "o"},
            {"email": "a@b.c"},
            {"api_token": "t"},
        ],
    )
    def test_exactly_one_kind_of_credentials(self, kw):
        """Neither, both, or half an API token is a ConfigurationError."""
        with pytest.raises(ConfigurationError):
            ZendeskSource(subdomain="acme", **kw)

    def test_the_subdomain_makes_the_base_url(self):
        """subdomain= gives https://{subdomain}.zendesk.com; secrets stay masked."""
        source = ZendeskSource(subdomain="acme", email="a@acme.com", api_token="s3")

        assert "https://acme.zendesk.com" == source.base_url
        assert "s3" not in repr(source)
        assert "a@acme.com/token" == source.auth.username


class TestFailures:
    def test_a_malformed_page_commits_nothing(self, zd, lake, make_source):
        """A page that is not JSON fails the sync; rows and cursor stay."""
        source = make_source()
        sync(source, lake)
        before = (lake.read(TICKETS).num_rows, lake.state(TICKETS))
        for ticket_id in sorted(zd.records["tickets"])[:30]:
            zd.update_ticket(ticket_id, status="pending")
        zd.advance(61)
        zd.inject(Fault.malformed(path="cursor", skip=1))

        with pytest.raises(UnexpectedResponseError, match="not valid JSON"):
            sync(source, lake)

        assert before == (lake.read(TICKETS).num_rows, lake.state(TICKETS))
        audit = last_audit(lake)
        assert ("failed", 0) == (audit["status"], audit["records_processed"])
        assert 30 == sync(source, lake).records_processed

    def test_a_page_of_the_wrong_shape_is_a_typed_error(self, zd, lake, make_source):
        """A page without a 'users' list names the path and the object."""
        zd.inject(Fault.status(200, {"count": 0, "end_of_stream": True}))

        with pytest.raises(UnexpectedResponseError, match="no 'users' list") as info:
            sync(make_source(), lake, "users")

        assert ("users", "/api/v2/incremental/users.json") == (
            info.value.object_type,
            info.value.path,
        )

    def test_a_value_of_the_wrong_type_is_a_typed_error(self, zd, lake, make_source):
        """A ticket whose requester_id is text stops the sync, naming the field."""
        zd.update_ticket(min(zd.records["tickets"]), requester_id="not-a-number")
        zd.advance(61)

        with pytest.raises(UnexpectedResponseError, match="requester_id"):
            sync(make_source(), lake)

    def test_a_stored_state_of_another_kind_is_refused(self, zd, lake, make_source):
        """A ticket state that is not a cursor state asks for a full refresh."""
        source = make_source()
        sync(source, lake, "users")
        state = lake.state(USERS)
        fetch = source.fetch(source.objects()[0], state, _context())

        with pytest.raises(ConfigurationError, match="full_refresh"):
            next(fetch)


def _context():
    import datetime as dt  # noqa: PLC0415

    from revops_ingest.sources import FetchContext  # noqa: PLC0415

    return FetchContext(sync_id="x", started_at=dt.datetime.now(dt.timezone.utc))


# ---------------------------------------------------------------- property


_EDITS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, 1000)),
        st.tuples(st.just("update"), st.integers(0, 1000)),
        st.tuples(st.just("system"), st.integers(0, 1000)),
        st.tuples(st.just("delete"), st.integers(0, 1000)),
        st.tuples(st.just("user"), st.integers(0, 1000)),
        st.tuples(st.just("tick"), st.integers(0, 90)),
        st.tuples(st.just("sync"), st.integers(0, 90)),
    ),
    max_size=20,
)


def _pick(records, index):
    ids = sorted(records)
    return ids[index % len(ids)] if ids else None


def _apply(zd, edit, arg):
    tickets = zd.live("tickets")
    if edit == "create":
        zd.create_ticket(_pick(zd.records["users"], arg), subject=f"New {arg}")
    elif edit == "update" and (ticket_id := _pick(tickets, arg)) is not None:
        zd.update_ticket(ticket_id, priority=["low", "high"][arg % 2])
    elif edit == "system" and (ticket_id := _pick(tickets, arg)) is not None:
        zd.system_update_ticket(ticket_id, tags=[f"t{arg}"])
    elif edit == "delete" and (ticket_id := _pick(tickets, arg)) is not None:
        zd.delete_ticket(ticket_id)
    elif edit == "user":
        zd.update_user(_pick(zd.records["users"], arg), name=f"User {arg}")
    elif edit == "tick":
        zd.advance(arg)


class TestProperties:
    @hypothesis.settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[hypothesis.HealthCheck.too_slow],
    )
    @hypothesis.given(edits=_EDITS)
    def test_the_latest_version_per_id_is_the_final_state(self, edits):
        """For any edit history, the latest raw version per id equals Zendesk's."""
        lake = revops_ingest.Lake(f"memory://zendesk-{uuid.uuid4().hex}")
        with ZendeskEmulator(
            seed=3, organizations=2, users_per_organization=3, tickets=12
        ) as zd:
            zd.advance(61)
            source = ZendeskSource(
                base_url=zd.url,
                email=zd.email,
                api_token=zd.api_token,
                page_size=4,
                retry=FAST,
                sleep=zd.advance,
                clock=zd.epoch,
            )
            with source:
                for obj in ("tickets", "users"):
                    sync(source, lake, obj)
                for edit, arg in edits:
                    if edit == "sync":
                        zd.advance(arg)
                        for obj in ("tickets", "users"):
                            sync(source, lake, obj)
                    else:
                        _apply(zd, edit, arg)
                zd.advance(61)
                for obj in ("tickets", "users"):
                    sync(source, lake, obj)
            zd.raise_errors()

            tickets = latest(lake.read(TICKETS), "generated_timestamp")
            assert set(zd.records["tickets"]) == set(tickets)
            for ticket_id, ticket in zd.records["tickets"].items():
                row = tickets[ticket_id]
                assert (
                    ticket["status"],
                    ticket["priority"],
                    ticket["tags"],
                    ticket["generated_timestamp"],
                    ticket["status"] == "deleted",
                ) == (
                    row["status"],
                    row["priority"],
                    row["tags"],
                    int(row["generated_timestamp"].timestamp()),
                    row["_tombstone"],
                )
            users = latest(lake.read(USERS), "updated_at")
            assert {i: u["name"] for i, u in zd.records["users"].items()} == {
                i: row["name"] for i, row in users.items()
            }
            versions = collections.Counter(
                (r["id"], r["updated_at"]) for r in lake.read(USERS).to_pylist()
            )
            assert [] == [key for key, count in versions.items() if count > 1]
