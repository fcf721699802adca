"""The HubSpot emulator speaks HubSpot's protocol, limits and errors included."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from revops_ingest.testing import HubSpotEmulator


UTC = dt.timezone.utc
NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(name="hs")
def _hs():
    with HubSpotEmulator(seed=1, companies=4, now=lambda: NOW) as emulator:
        yield emulator
    emulator.raise_errors()


def call(hs, method, path, token=None, **kw):
    headers = {"Authorization": f"Bearer {token or hs.private_app_token}"}
    return requests.request(
        method, f"{hs.url}{path}", headers=headers, timeout=10, **kw
    )


def search(hs, body, object_type="deals"):
    return call(hs, "POST", f"/crm/v3/objects/{object_type}/search", json=body)


class TestRecords:
    def test_property_values_are_strings(self, hs):
        """Every property value on the wire is a string or null."""
        answer = call(
            hs,
            "GET",
            "/crm/v3/objects/deals?limit=100&properties=amount,hs_is_closed,closedate",
        )
        values = [v for r in answer.json()["results"] for v in r["properties"].values()]
        assert values
        assert all(v is None or isinstance(v, str) for v in values)

    def test_list_pages_by_after_and_caps_limit(self, hs):
        """Lists page by an opaque after cursor; limit above 100 is refused."""
        first = call(hs, "GET", "/crm/v3/objects/contacts?limit=3").json()
        after = first["paging"]["next"]["after"]
        second = call(
            hs, "GET", f"/crm/v3/objects/contacts?limit=3&after={after}"
        ).json()
        assert not {r["id"] for r in first["results"]} & {
            r["id"] for r in second["results"]
        }
        assert 400 == call(hs, "GET", "/crm/v3/objects/contacts?limit=101").status_code

    def test_archived_lists_only_archived_records(self, hs):
        """archived=true lists only archived records, with archivedAt."""
        deal = min(hs.live("deals"))
        hs.archive("deals", deal)
        archived = call(hs, "GET", "/crm/v3/objects/deals?archived=true").json()[
            "results"
        ]
        live = call(hs, "GET", "/crm/v3/objects/deals?limit=100").json()["results"]
        assert [deal] == [r["id"] for r in archived]
        assert archived[0]["archivedAt"]
        assert deal not in {r["id"] for r in live}


class TestSearch:
    def test_paging_past_the_cap_is_a_400(self):
        """Offset paging past search_max_results is refused, as past 10,000."""
        with HubSpotEmulator(companies=2, search_max_results=10, now=lambda: NOW) as hs:
            assert 200 == search(hs, {"limit": 5, "after": "5"}).status_code
            answer = search(hs, {"limit": 5, "after": "10"})
        assert 400 == answer.status_code
        assert "VALIDATION_ERROR" == answer.json()["category"]

    def test_limits_of_the_request(self, hs):
        """More than 200 a page, two sorts or a body over 3,000 characters: 400."""
        assert 400 == search(hs, {"limit": 201}).status_code
        sorts = [{"propertyName": "amount"}, {"propertyName": "dealname"}]
        assert 400 == search(hs, {"sorts": sorts}).status_code
        assert 400 == search(hs, {"properties": ["x" * 40] * 80}).status_code

    def test_filters_and_sort(self, hs):
        """GTE/LT on a datetime take epoch ms; results come sorted ascending."""
        hs.generate("deals", 3, stamp=NOW - dt.timedelta(minutes=1))
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GTE",
                            "value": str(
                                int((NOW - dt.timedelta(minutes=2)).timestamp() * 1000)
                            ),
                        }
                    ]
                }
            ],
            "sorts": [
                {"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}
            ],
            "limit": 200,
        }
        answer = search(hs, body).json()
        assert 3 == answer["total"]
        assert "paging" not in answer

    def test_ties_do_not_come_in_id_order(self, hs):
        """Records sharing a stamp come in an order unrelated to their ids."""
        ids = hs.generate("deals", 20, stamp=NOW - dt.timedelta(minutes=1))
        body = {
            "sorts": [
                {"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}
            ],
            "limit": 200,
        }
        got = [r["id"] for r in search(hs, body).json()["results"] if r["id"] in ids]
        assert sorted(got) == sorted(ids)
        assert got != sorted(got, key=int)

    def test_indexing_delay_hides_fresh_changes(self):
        """A change shows in search only index_delay after it was made."""
        now = [NOW]
        with HubSpotEmulator(
            companies=1, index_delay=dt.timedelta(seconds=30), now=lambda: now[0]
        ) as hs:
            deal = hs.create("deals", dealname="fresh")
            body = {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": "dealname",
                                "operator": "EQ",
                                "value": "fresh",
                            }
                        ]
                    }
                ]
            }
            assert 0 == search(hs, body).json()["total"]
            now[0] += dt.timedelta(seconds=31)
            assert [deal] == [r["id"] for r in search(hs, body).json()["results"]]


class TestAuthAndLimits:
    def test_unknown_token(self, hs):
        """An unknown token is 401 INVALID_AUTHENTICATION."""
        answer = call(hs, "GET", "/crm/v3/owners", token="nope")
        assert (401, "INVALID_AUTHENTICATION") == (
            answer.status_code,
            answer.json()["category"],
        )

    def test_oauth_token_expires_after_its_calls(self):
        """With token_ttl_calls, the token's next call is 401 EXPIRED_AUTHENTICATION."""
        with HubSpotEmulator(companies=1, token_ttl_calls=1, now=lambda: NOW) as hs:
            token = requests.post(
                hs.token_url,
                data={
                    "grant_type": "refresh_token",
                    "client_id": hs.client_id,
                    "client_secret": hs.client_secret,
                    "refresh_token": hs.refresh_token,
                },
                timeout=10,
            ).json()
            assert 1800 == token["expires_in"]
            assert (
                200
                == call(
                    hs, "GET", "/crm/v3/owners", token=token["access_token"]
                ).status_code
            )
            answer = call(hs, "GET", "/crm/v3/owners", token=token["access_token"])
        assert (401, "EXPIRED_AUTHENTICATION") == (
            answer.status_code,
            answer.json()["category"],
        )

    def test_bad_refresh_token(self, hs):
        """A wrong refresh token is 400 BAD_REFRESH_TOKEN."""
        answer = requests.post(
            hs.token_url,
            data={
                "grant_type": "refresh_token",
                "client_id": hs.client_id,
                "client_secret": hs.client_secret,
                "refresh_token": "wrong",
            },
            timeout=10,
        )
        assert (400, "BAD_REFRESH_TOKEN") == (
            answer.status_code,
            answer.json()["status"],
        )

    def test_rate_limit_headers(self, hs):
        """Calls carry the ten-second and (private app) daily headers; search none."""
        headers = call(hs, "GET", "/crm/v3/owners").headers
        assert "10000" == headers["X-HubSpot-RateLimit-Interval-Milliseconds"]
        assert str(hs.daily_limit) == headers["X-HubSpot-RateLimit-Daily"]
        assert "X-HubSpot-RateLimit-Max" not in search(hs, {}).headers

    def test_ten_secondly_and_daily_429s(self):
        """Past the ten-second limit 429 TEN_SECONDLY_ROLLING; past the day, DAILY."""
        with HubSpotEmulator(
            companies=1,
            ten_second_limit=2,
            daily_limit=3,
            rate_clock=lambda: 0.0,
            now=lambda: NOW,
        ) as hs:
            answers = [call(hs, "GET", "/crm/v3/owners") for _ in range(3)]
            assert [200, 200, 429] == [a.status_code for a in answers]
            assert "TEN_SECONDLY_ROLLING" == answers[2].json()["policyName"]
            hs.exhaust_daily_quota()
            daily = call(hs, "GET", "/crm/v3/owners")
        assert ("DAILY", "RATE_LIMIT") == (
            daily.json()["policyName"],
            daily.json()["errorType"],
        )


class TestOtherEndpoints:
    def test_legacy_engagements_page_by_offset(self, hs):
        """The v1 endpoint pages with offset and hasMore, epoch-ms numbers."""
        first = call(hs, "GET", "/engagements/v1/engagements/paged?limit=3").json()
        assert first["hasMore"]
        second = call(
            hs,
            "GET",
            f"/engagements/v1/engagements/paged?limit=3&offset={first['offset']}",
        ).json()
        ids = [r["engagement"]["id"] for r in first["results"] + second["results"]]
        assert len(ids) == len(set(ids))
        assert isinstance(first["results"][0]["engagement"]["createdAt"], int)

    def test_v4_associations_207_for_ids_without_any(self, hs):
        """Ids without associations are listed in errors, with status 207."""
        lonely = hs.create("deals", dealname="alone")
        answer = call(
            hs,
            "POST",
            "/crm/v4/associations/deals/companies/batch/read",
            json={"inputs": [{"id": lonely}]},
        )
        assert 207 == answer.status_code
        assert [] == answer.json()["results"]

    def test_pipeline_metadata_are_strings(self, hs):
        """Stage metadata (probability, isClosed) are strings, as HubSpot sends them."""
        stages = call(hs, "GET", "/crm/v3/pipelines/deals").json()["results"][0][
            "stages"
        ]
        assert {"isClosed": "true", "probability": "1.0"} == stages[5]["metadata"]
