"""The Salesforce emulator over its socket: OAuth, REST query, replication, Bulk."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import re
import time

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from revops_ingest.testing._emulator import Fault
from revops_ingest.testing._salesforce import SalesforceEmulator


UTC = dt.timezone.utc
NOW = dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
TIMEOUT = (2, 10)
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REST_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
BULK_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += dt.timedelta(**delta)


class Api:
    """A requests session holding a valid token, with Salesforce-shaped helpers."""

    def __init__(self, sf, session):
        self.sf = sf
        self.session = session
        self.base = f"{sf.url}/services/data/v62.0"

    def get(self, path, **kw):
        url = path if path.startswith("http") else f"{self.sf.url}{path}"
        return self.session.get(url, timeout=TIMEOUT, **kw)

    def rest(self, path, **kw):
        return self.session.get(f"{self.base}{path}", timeout=TIMEOUT, **kw)

    def query(self, soql, *, all_rows=False, batch=None):
        headers = {"Sforce-Query-Options": f"batchSize={batch}"} if batch else {}
        resource = "/queryAll" if all_rows else "/query"
        return self.rest(resource, params={"q": soql}, headers=headers)

    def query_all_pages(self, soql, *, all_rows=False, batch=None):
        """Follow nextRecordsUrl; return the pages' bodies."""
        body = self.query(soql, all_rows=all_rows, batch=batch).json()
        pages = [body]
        while not body["done"]:
            body = self.get(body["nextRecordsUrl"]).json()
            pages.append(body)
        return pages

    def bulk(self, soql, operation="query", **extra):
        body = {"operation": operation, "query": soql, **extra}
        return self.session.post(f"{self.base}/jobs/query", json=body, timeout=TIMEOUT)

    def bulk_complete(self, job_id):
        while True:
            info = self.rest(f"/jobs/query/{job_id}").json()
            if info["state"] not in {"UploadComplete", "InProgress"}:
                return info


@pytest.fixture(name="clock")
def _clock():
    return Clock(NOW)


@pytest.fixture(name="sf")
def _sf(clock):
    with SalesforceEmulator(seed=7, now=clock) as sf:
        yield sf
        sf.raise_errors()


@pytest.fixture(name="api")
def _api(sf):
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {sf.issue_access_token()}"
        yield Api(sf, session)


def _token(sf, **form):
    return requests.post(sf.token_url, data=form, timeout=TIMEOUT)


def _refresh_form(sf, **changes):
    form = {
        "grant_type": "refresh_token",
        "client_id": sf.client_id,
        "client_secret": sf.client_secret,
        "refresh_token": sf.refresh_token,
    }
    form.update(changes)
    return form


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _jwt(claims, key_pem, alg="RS256"):
    key = serialization.load_pem_private_key(key_pem, password=None)
    header = _b64url(json.dumps({"alg": alg}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signature = key.sign(header + b"." + payload, padding.PKCS1v15(), hashes.SHA256())
    return (header + b"." + payload + b"." + _b64url(signature)).decode()


def _claims(sf, **changes):
    claims = {
        "iss": sf.client_id,
        "sub": sf.username,
        "aud": "https://login.salesforce.com",
        "exp": int((NOW + dt.timedelta(minutes=3)).timestamp()),
    }
    claims.update(changes)
    return claims


def _error(response):
    body = response.json()
    assert isinstance(body, list)
    return response.status_code, body[0]["errorCode"]


def _ids(pages):
    return [record["Id"] for page in pages for record in page["records"]]


def _csv_rows(text):
    return list(csv.reader(io.StringIO(text)))


class TestTokenEndpoint:
    def test_refresh_grant_answers_like_salesforce(self, sf):
        """The refresh grant returns Salesforce's fields, issued_at as a string."""
        response = _token(sf, **_refresh_form(sf))
        body = response.json()

        assert 200 == response.status_code
        assert {
            "access_token",
            "instance_url",
            "id",
            "token_type",
            "issued_at",
            "signature",
            "scope",
        } == set(body)
        assert sf.url == body["instance_url"] == sf.instance_url
        assert "Bearer" == body["token_type"]
        assert isinstance(body["issued_at"], str)
        assert str(int(NOW.timestamp() * 1000)) == body["issued_at"]
        expected = hmac.new(
            sf.client_secret.encode(),
            (body["id"] + body["issued_at"]).encode(),
            hashlib.sha256,
        ).digest()
        assert base64.b64encode(expected).decode() == body["signature"]
        assert 1 == sf.access_tokens_issued

    @pytest.mark.parametrize(
        ("changes", "error"),
        [
            ({"refresh_token": "stale"}, "invalid_grant"),
            ({"client_secret": "wrong"}, "invalid_client"),
            ({"client_id": "wrong"}, "invalid_client_id"),
            ({"grant_type": "password"}, "unsupported_grant_type"),
        ],
    )
    def test_refresh_grant_errors(self, sf, changes, error):
        """Bad credentials get 400 with an OAuth error object."""
        response = _token(sf, **_refresh_form(sf, **changes))

        assert 400 == response.status_code
        assert error == response.json()["error"]
        assert "error_description" in response.json()

    def test_rotation_invalidates_the_old_refresh_token(self, clock):
        """With rotation, each refresh returns a new token and the old one dies."""
        with SalesforceEmulator(now=clock, accounts=1, rotate_refresh_token=True) as sf:
            old = sf.refresh_token
            first = _token(sf, **_refresh_form(sf)).json()
            again = _token(sf, **_refresh_form(sf, refresh_token=old))
            second = _token(
                sf, **_refresh_form(sf, refresh_token=first["refresh_token"])
            )

        assert first["refresh_token"] != old
        assert 400 == again.status_code
        assert "invalid_grant" == again.json()["error"]
        assert 200 == second.status_code

    def test_client_credentials_grant(self, sf):
        """The client-credentials grant issues an access token but no refresh token."""
        body = _token(
            sf,
            grant_type="client_credentials",
            client_id=sf.client_id,
            client_secret=sf.client_secret,
        ).json()

        assert "access_token" in body
        assert "refresh_token" not in body

    def test_client_credentials_in_basic_auth(self, sf):
        """Client credentials may come as HTTP Basic authentication."""
        response = requests.post(
            sf.token_url,
            data={"grant_type": "client_credentials"},
            auth=(sf.client_id, sf.client_secret),
            timeout=TIMEOUT,
        )

        assert 200 == response.status_code

    def test_jwt_grant_with_the_emulator_key(self, sf):
        """An RS256 assertion signed with jwt_private_key_pem gets a token."""
        assertion = _jwt(_claims(sf), sf.jwt_private_key_pem)

        response = _token(sf, grant_type=JWT_GRANT, assertion=assertion)

        assert 200 == response.status_code
        assert "refresh_token" not in response.json()
        assert b"BEGIN PUBLIC KEY" in sf.jwt_public_key_pem

    def test_jwt_audience_may_be_the_emulator(self, sf):
        """The emulator's own URL is an accepted audience (like a My Domain)."""
        assertion = _jwt(_claims(sf, aud=sf.url), sf.jwt_private_key_pem)

        assert 200 == _token(sf, grant_type=JWT_GRANT, assertion=assertion).status_code

    def test_jwt_with_a_foreign_key_is_refused(self, sf):
        """A signature by another key is an invalid assertion."""
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

        response = _token(sf, grant_type=JWT_GRANT, assertion=_jwt(_claims(sf), pem))

        assert 400 == response.status_code
        assert {"error": "invalid_grant", "error_description": "invalid assertion"} == (
            response.json()
        )

    @pytest.mark.parametrize(
        ("changes", "error", "description"),
        [
            (
                {"exp": int((NOW - dt.timedelta(seconds=1)).timestamp())},
                "invalid_grant",
                "expired authorization code",
            ),
            (
                {"exp": int(NOW.timestamp() * 1000)},
                "invalid_grant",
                "expired authorization code",
            ),
            ({"aud": "https://example.com"}, "invalid_grant", "audience is invalid"),
            ({"iss": "someone-else"}, "invalid_client_id", "client identifier invalid"),
            (
                {"sub": "nobody@example.com"},
                "invalid_grant",
                "user hasn't approved this consumer",
            ),
        ],
    )
    def test_jwt_claim_errors(self, sf, changes, error, description):
        """Expired or far-future exp, wrong aud, iss or sub are refused."""
        assertion = _jwt(_claims(sf, **changes), sf.jwt_private_key_pem)

        response = _token(sf, grant_type=JWT_GRANT, assertion=assertion)

        assert 400 == response.status_code
        assert {"error": error, "error_description": description} == response.json()

    def test_jwt_must_be_rs256_and_well_formed(self, sf):
        """Another algorithm or a mangled assertion is an invalid assertion."""
        hs256 = _jwt(_claims(sf), sf.jwt_private_key_pem, alg="HS256")

        for assertion in (hs256, "not-a-jwt", "a.b.c"):
            response = _token(sf, grant_type=JWT_GRANT, assertion=assertion)
            assert "invalid assertion" == response.json()["error_description"]

    def test_identity_url(self, sf):
        """The id URL of the token response describes the integration user."""
        body = _token(sf, **_refresh_form(sf)).json()

        identity = requests.get(
            body["id"],
            headers={"Authorization": f"Bearer {body['access_token']}"},
            timeout=TIMEOUT,
        ).json()

        assert (sf.user_id, sf.username) == (identity["user_id"], identity["username"])


class TestSessionAndQuota:
    def test_token_from_the_grant_works_on_the_api(self, sf):
        """A token from the token endpoint opens the REST API."""
        token = _token(sf, **_refresh_form(sf)).json()["access_token"]

        response = requests.get(
            f"{sf.url}/services/data/v62.0/limits",
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )

        assert 200 == response.status_code

    def test_missing_token_is_401_with_an_array_body(self, sf):
        """No token: 401 INVALID_SESSION_ID as a JSON array."""
        response = requests.get(
            f"{sf.url}/services/data/v62.0/sobjects", timeout=TIMEOUT
        )

        assert 401 == response.status_code
        assert [
            {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
        ] == response.json()

    def test_expire_tokens(self, sf, api):
        """expire_tokens() kills every current token; a new one works."""
        assert 200 == api.rest("/limits").status_code

        sf.expire_tokens()

        assert (401, "INVALID_SESSION_ID") == _error(api.rest("/limits"))
        api.session.headers["Authorization"] = f"Bearer {sf.issue_access_token()}"
        assert 200 == api.rest("/limits").status_code

    def test_token_ttl_calls(self, clock):
        """With token_ttl_calls=2 the third call with one token is refused."""
        with SalesforceEmulator(now=clock, accounts=1, token_ttl_calls=2) as sf:
            headers = {"Authorization": f"Bearer {sf.issue_access_token()}"}
            statuses = [
                requests.get(
                    f"{sf.url}/services/data/v62.0/limits",
                    headers=headers,
                    timeout=TIMEOUT,
                ).status_code
                for _ in range(3)
            ]

        assert [200, 200, 401] == statuses

    def test_limit_info_header_counts_calls(self, sf, api):
        """Every response carries Sforce-Limit-Info with calls used so far."""
        first = api.rest("/sobjects")
        second = api.query("SELECT Id FROM Account")
        versions = api.get("/services/data/")

        assert "api-usage=1/100000" == first.headers["Sforce-Limit-Info"]
        assert "api-usage=2/100000" == second.headers["Sforce-Limit-Info"]
        assert "api-usage=2/100000" == versions.headers["Sforce-Limit-Info"]
        assert 2 == sf.api_calls

    def test_quota_exhausted_is_403(self, sf, api):
        """Past the daily allocation: 403 REQUEST_LIMIT_EXCEEDED, not 429."""
        sf.exhaust_quota()

        response = api.query("SELECT Id FROM Account")

        assert 403 == response.status_code
        assert [
            {
                "message": "TotalRequests Limit exceeded.",
                "errorCode": "REQUEST_LIMIT_EXCEEDED",
            }
        ] == response.json()
        assert "api-usage=100000/100000" == response.headers["Sforce-Limit-Info"]

    def test_daily_limit_and_limits_resource(self, clock):
        """The limits resource reports Max and Remaining; the limit is enforced."""
        with (
            SalesforceEmulator(now=clock, accounts=1, daily_api_limit=3) as sf,
            requests.Session() as session,
        ):
            session.headers["Authorization"] = f"Bearer {sf.issue_access_token()}"
            url = f"{sf.url}/services/data/v62.0/limits"
            limits = session.get(url, timeout=TIMEOUT).json()
            statuses = [session.get(url, timeout=TIMEOUT).status_code for _ in range(3)]

        assert {"Max": 3, "Remaining": 2} == limits["DailyApiRequests"]
        assert [200, 200, 403] == statuses

    def test_unknown_version_and_path(self, api):
        """An unknown API version or resource is 404 NOT_FOUND."""
        assert (404, "NOT_FOUND") == _error(api.get("/services/data/v10.0/limits"))
        assert (404, "NOT_FOUND") == _error(api.rest("/nothing/here"))


class TestDescribe:
    def test_versions(self, api):
        """The versions list ends with the emulator's API version, labelled."""
        versions = api.get("/services/data/").json()

        assert {
            "label": "Winter '25",
            "url": "/services/data/v62.0",
            "version": "62.0",
        } == versions[-1]

    def test_global_describe(self, api):
        """The global describe lists the six objects with their key prefixes."""
        body = api.rest("/sobjects/").json()

        prefixes = {obj["name"]: obj["keyPrefix"] for obj in body["sobjects"]}
        assert {
            "User": "005",
            "Account": "001",
            "Contact": "003",
            "Opportunity": "006",
            "Task": "00T",
            "Event": "00U",
        } == prefixes
        assert all(
            obj["queryable"] and obj["replicateable"] and obj["retrieveable"]
            for obj in body["sobjects"]
        )

    def test_describe_fields(self, api):
        """Describe reports compound, location, base64 and formula fields."""
        fields = {
            f["name"]: f
            for f in api.rest("/sobjects/Account/describe").json()["fields"]
        }

        assert "address" == fields["BillingAddress"]["type"]
        assert "BillingAddress" == fields["BillingCity"]["compoundFieldName"]
        assert "location" == fields["HQ_Location__c"]["type"]
        assert (
            "HQ_Location__c" == fields["HQ_Location__Latitude__s"]["compoundFieldName"]
        )
        assert ("base64", "xsd:base64Binary") == (
            fields["Logo__c"]["type"],
            fields["Logo__c"]["soapType"],
        )
        assert fields["Employee_Band__c"]["calculated"]
        assert fields["Employee_Band__c"]["calculatedFormula"]
        assert (["User"], "Owner") == (
            fields["OwnerId"]["referenceTo"],
            fields["OwnerId"]["relationshipName"],
        )
        assert {
            "name",
            "type",
            "soapType",
            "label",
            "length",
            "nillable",
            "calculated",
            "calculatedFormula",
            "compoundFieldName",
            "referenceTo",
            "relationshipName",
            "picklistValues",
            "filterable",
            "updateable",
            "createable",
        } <= set(fields["Name"])

    def test_stage_picklist(self, api):
        """Opportunity.StageName carries the standard stages."""
        fields = api.rest("/sobjects/Opportunity/describe").json()["fields"]
        stage = next(f for f in fields if f["name"] == "StageName")

        assert "Id. Decision Makers" in [v["value"] for v in stage["picklistValues"]]

    def test_user_has_no_is_deleted(self, api):
        """User, which cannot be deleted, has no IsDeleted field (as in Salesforce)."""
        fields = api.rest("/sobjects/User/describe").json()["fields"]

        assert "IsDeleted" not in {f["name"] for f in fields}

    def test_unknown_object(self, api):
        """Describing an unknown object is 404 NOT_FOUND."""
        assert (404, "NOT_FOUND") == _error(api.rest("/sobjects/Nope__c/describe"))


class TestQuery:
    def test_record_shape(self, sf, api):
        """Records carry attributes, REST datetimes, nested compounds, blob links."""
        account_id = sf.create(
            "Account",
            Name="Acme Inc.",
            BillingCity="Paris",
            BillingCountry="France",
            HQ_Location__Latitude__s=48.85,
            HQ_Location__Longitude__s=2.35,
            Logo__c=b"\x89PNG",
            NumberOfEmployees=20,
        )
        body = api.query(
            "SELECT Id, Name, SystemModstamp, BillingAddress, HQ_Location__c, "
            "Logo__c, Employee_Band__c, Owner.Name FROM Account "
            f"WHERE Id = '{account_id}'"
        ).json()
        record = body["records"][0]

        assert (1, True) == (body["totalSize"], body["done"])
        assert {
            "type": "Account",
            "url": f"/services/data/v62.0/sobjects/Account/{account_id}",
        } == record["attributes"]
        assert "2024-06-01T12:00:00.000+0000" == record["SystemModstamp"]
        assert {
            "city": "Paris",
            "country": "France",
            "geocodeAccuracy": None,
            "latitude": None,
            "longitude": None,
            "postalCode": None,
            "state": None,
            "street": None,
        } == record["BillingAddress"]
        assert {"latitude": 48.85, "longitude": 2.35} == record["HQ_Location__c"]
        assert "Small" == record["Employee_Band__c"]
        assert "Integration User" == record["Owner"]["Name"]
        assert "User" == record["Owner"]["attributes"]["type"]
        assert b"\x89PNG" == api.get(record["Logo__c"]).content

    def test_types_as_json(self, sf, api):
        """Dates are YYYY-MM-DD, numbers JSON numbers, booleans JSON booleans."""
        body = api.query(
            "SELECT CloseDate, Amount, Probability, IsWon, CreatedDate "
            "FROM Opportunity "
            "WHERE Amount != null LIMIT 1"
        ).json()
        record = body["records"][0]

        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["CloseDate"])
        assert isinstance(record["Amount"], float)
        assert isinstance(record["IsWon"], bool)
        assert REST_DATETIME.match(record["CreatedDate"])

    def test_names_ignore_case(self, api):
        """Object and field names resolve whatever their case; keys are canonical."""
        record = api.query("select id, NAME from account limit 1").json()["records"][0]

        assert {"attributes", "Id", "Name"} == set(record)

    def test_count(self, sf, api):
        """SELECT COUNT() returns totalSize and no records."""
        body = api.query("SELECT COUNT() FROM Account").json()

        assert {"totalSize": 20, "done": True, "records": []} == body

    def test_window_query_matches_the_data(self, sf, api):
        """A [start, end) SystemModstamp window returns exactly those records."""
        start, end = NOW - dt.timedelta(days=30), NOW - dt.timedelta(days=10)
        expected = sorted(
            (r["SystemModstamp"], r["Id"])
            for r in sf.records["Opportunity"].values()
            if start <= r["SystemModstamp"] < end
        )

        pages = api.query_all_pages(
            "SELECT Id FROM Opportunity WHERE SystemModstamp >= 2024-05-02T12:00:00Z "
            "AND SystemModstamp < 2024-05-22T14:00:00+02:00 ORDER BY SystemModstamp, Id"
        )

        assert [record_id for _, record_id in expected] == _ids(pages)

    @pytest.mark.parametrize(
        ("soql", "code"),
        [
            ("SELECT Id, Nope__c FROM Account", "INVALID_FIELD"),
            ("SELECT Id FROM Account WHERE Bogus.Name = 'x'", "INVALID_FIELD"),
            ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
            (
                "SELECT Id FROM Account WHERE SystemModstamp > '2024-01-01T00:00:00Z'",
                "MALFORMED_QUERY",
            ),
            (
                "SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry",
                "MALFORMED_QUERY",
            ),
            ("SELECT Id, Id FROM Account", "MALFORMED_QUERY"),
            ("SELECT Id FROM Account WHERE BillingAddress != null", "INVALID_FIELD"),
        ],
    )
    def test_query_errors(self, api, soql, code):
        """Bad SOQL is 400 with Salesforce's error codes."""
        assert (400, code) == _error(api.query(soql))

    def test_missing_q(self, api):
        """A query without q is MALFORMED_QUERY."""
        assert (400, "MALFORMED_QUERY") == _error(api.rest("/query"))

    def test_record_resource(self, sf, api):
        """GET sobjects/X/{id} returns one record; a deleted one is 404."""
        account_id = next(iter(sf.records["Account"]))
        record = api.rest(f"/sobjects/Account/{account_id}").json()

        sf.delete("Account", account_id)

        assert sf.records["Account"][account_id]["Name"] == record["Name"]
        assert (404, "NOT_FOUND") == _error(api.rest(f"/sobjects/Account/{account_id}"))

    def test_record_resource_with_fields(self, sf, api):
        """?fields= picks the fields of a single record."""
        contact_id = next(iter(sf.records["Contact"]))

        record = api.rest(
            f"/sobjects/Contact/{contact_id}", params={"fields": "Id,Account.Name"}
        ).json()

        assert {"attributes", "Id", "Account"} == set(record)

    def test_offset(self, api):
        """OFFSET skips rows, up to Salesforce's maximum of 2000."""
        everything = api.query("SELECT Id FROM Account ORDER BY Id").json()
        skipped = api.query(
            "SELECT Id FROM Account ORDER BY Id LIMIT 3 OFFSET 5"
        ).json()

        assert _ids([everything])[5:8] == _ids([skipped])
        assert (400, "NUMBER_OUTSIDE_VALID_RANGE") == _error(
            api.query("SELECT Id FROM Account OFFSET 2001")
        )


class TestPaging:
    def test_batches_and_next_records_url(self, sf, api):
        """batchSize=200 over 450 rows gives 200, 200, 50 with a stable totalSize."""
        sf.generate("Contact", 450 - len(sf.records["Contact"]))

        pages = api.query_all_pages("SELECT Id FROM Contact ORDER BY Id", batch=200)

        assert [200, 200, 50] == [len(page["records"]) for page in pages]
        assert {450} == {page["totalSize"] for page in pages}
        assert re.fullmatch(
            r"/services/data/v62\.0/query/01g\w{15}-200", pages[0]["nextRecordsUrl"]
        )
        assert "nextRecordsUrl" not in pages[-1]
        assert sorted(sf.records["Contact"]) == _ids(pages)
        assert 0 == sf.open_cursors

    @pytest.mark.parametrize(
        ("asked", "served"), [(1, 200), (5000, 2000), (None, 2000)]
    )
    def test_batch_size_is_clamped(self, sf, api, asked, served):
        """The batch size is clamped to 200..2000; the default is 2000."""
        sf.generate("Task", 2500)

        body = api.query("SELECT Id FROM Task", batch=asked).json()

        assert served == len(body["records"])

    def test_result_set_is_a_snapshot(self, sf, api):
        """Later pages serve the rows as they were when the query ran."""
        sf.generate("Contact", 400)
        first = api.query(
            "SELECT Id, LastName FROM Contact ORDER BY Id", batch=200
        ).json()
        last_id = max(sf.records["Contact"])
        sf.update("Contact", last_id, LastName="Changed")
        sf.create("Contact", LastName="Newcomer")

        rest = [first]
        while not rest[-1]["done"]:
            rest.append(api.get(rest[-1]["nextRecordsUrl"]).json())

        records = [r for page in rest for r in page["records"]]
        assert len(records) == first["totalSize"]
        assert "Changed" != records[-1]["LastName"]

    def test_locators_expire_after_15_idle_minutes(self, sf, api, clock):
        """A locator idle for more than 15 minutes is INVALID_QUERY_LOCATOR."""
        sf.generate("Task", 600)
        first = api.query("SELECT Id FROM Task", batch=200).json()
        clock.advance(minutes=14)
        second = api.get(first["nextRecordsUrl"])
        clock.advance(minutes=15, seconds=1)

        assert 200 == second.status_code
        assert (400, "INVALID_QUERY_LOCATOR") == _error(
            api.get(second.json()["nextRecordsUrl"])
        )

    def test_at_most_ten_open_cursors(self, sf, api):
        """The eleventh open cursor releases the oldest one."""
        sf.generate("Task", 600)
        urls = [
            api.query("SELECT Id FROM Task", batch=200).json()["nextRecordsUrl"]
            for _ in range(11)
        ]

        assert 10 == sf.open_cursors
        assert (400, "INVALID_QUERY_LOCATOR") == _error(api.get(urls[0]))
        assert 200 == api.get(urls[1]).status_code

    def test_query_all_locator_under_both_paths(self, sf, api):
        """A queryAll cursor is served under /query/ and /queryAll/ alike."""
        sf.generate("Task", 600)
        url = api.query("SELECT Id FROM Task", all_rows=True, batch=200).json()[
            "nextRecordsUrl"
        ]

        assert "/query/" in url
        assert 200 == api.get(url.replace("/query/", "/queryAll/")).status_code

    def test_bad_locator(self, api):
        """An unknown locator is INVALID_QUERY_LOCATOR."""
        assert (400, "INVALID_QUERY_LOCATOR") == _error(
            api.rest("/query/01g5g0000000099AAA-200")
        )


class TestDeletes:
    def test_query_hides_query_all_shows_deleted(self, sf, api):
        """A deleted record leaves query, stays in queryAll with IsDeleted true."""
        account_id = next(iter(sf.records["Account"]))
        sf.delete("Account", account_id)
        soql = (
            "SELECT Id, IsDeleted, SystemModstamp FROM Account "
            f"WHERE Id = '{account_id}'"
        )

        live = api.query(soql).json()
        everything = api.query(soql, all_rows=True).json()

        assert 0 == live["totalSize"]
        assert [
            {
                "attributes": {
                    "type": "Account",
                    "url": f"/services/data/v62.0/sobjects/Account/{account_id}",
                },
                "Id": account_id,
                "IsDeleted": True,
                "SystemModstamp": "2024-06-01T12:00:00.000+0000",
            }
        ] == everything["records"]

    def test_purge_removes_from_query_all(self, sf, api):
        """A purged record is gone from queryAll too."""
        account_id = next(iter(sf.records["Account"]))
        sf.delete("Account", account_id)
        sf.purge("Account", account_id)

        body = api.query(
            f"SELECT Id FROM Account WHERE Id = '{account_id}'", all_rows=True
        ).json()

        assert 0 == body["totalSize"]

    def test_hard_delete_is_logged(self, sf, api, clock):
        """Purging a live record logs it as deleted, as a hard delete does."""
        account_id = next(iter(sf.records["Account"]))
        sf.purge("Account", account_id)
        clock.advance(minutes=2)

        body = api.rest(
            "/sobjects/Account/deleted/",
            params={"start": "2024-06-01T12:00:00Z", "end": "2024-06-01T12:02:00Z"},
        ).json()

        assert [account_id] == [r["id"] for r in body["deletedRecords"]]

    def test_users_cannot_be_deleted(self, sf):
        """delete() refuses User records, as Salesforce does."""
        with pytest.raises(ValueError):
            sf.delete("User", sf.user_id)


class TestReplication:
    def test_updated_ids_and_latest_date_covered(self, sf, api, clock):
        """updated/ lists changes in the window, seconds truncated."""
        contact_id = next(iter(sf.records["Contact"]))
        clock.advance(minutes=5, seconds=30)
        sf.update("Contact", contact_id, Title="CRO")
        clock.advance(minutes=5)

        body = api.rest(
            "/sobjects/Contact/updated/",
            params={"start": "2024-06-01T12:05:00Z", "end": "2024-06-01T12:10:45Z"},
        ).json()

        assert {
            "ids": [contact_id],
            "latestDateCovered": "2024-06-01T12:10:00.000+0000",
        } == body

    def test_updated_end_is_capped_at_now(self, sf, api, clock):
        """The latest date covered never passes the (minute-truncated) present."""
        clock.advance(hours=1)
        sf.update("Contact", next(iter(sf.records["Contact"])), Title="CRO")
        clock.advance(minutes=2)

        body = api.rest(
            "/sobjects/Contact/updated/",
            params={"start": "2024-06-01T13:00:00Z", "end": "2024-06-01T14:00:00Z"},
        ).json()

        assert "2024-06-01T13:02:00.000+0000" == body["latestDateCovered"]
        assert 1 == len(body["ids"])

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            ("2024-04-01T00:00:00Z", "2024-06-01T00:00:00Z"),
            ("2024-06-01T10:00:00Z", "2024-06-01T10:00:30Z"),
            ("yesterday", "2024-06-01T00:00:00Z"),
        ],
    )
    def test_bad_windows(self, api, start, end):
        """Starts over 30 days back, windows under a minute and bad dates are 400."""
        response = api.rest(
            "/sobjects/Account/updated/", params={"start": start, "end": end}
        )

        assert (400, "INVALID_REPLICATION_DATE") == _error(response)

    def test_deleted_records(self, sf, api, clock):
        """deleted/ lists deletions with their dates and the log's reach."""
        account_id = next(iter(sf.records["Account"]))
        clock.advance(minutes=3)
        sf.delete("Account", account_id)
        clock.advance(minutes=5)

        body = api.rest(
            "/sobjects/Account/deleted/",
            params={"start": "2024-06-01T12:00:00Z", "end": "2024-06-01T12:10:00Z"},
        ).json()

        assert {
            "deletedRecords": [
                {"id": account_id, "deletedDate": "2024-06-01T12:03:00.000+0000"}
            ],
            "earliestDateAvailable": "2024-05-17T12:08:00.000+0000",
            "latestDateCovered": "2024-06-01T12:08:00.000+0000",
        } == body

    def test_purged_log_moves_earliest_date_available(self, sf, api, clock):
        """After a Recycle Bin purge, earliestDateAvailable is later than start."""
        first, second = list(sf.records["Account"])[:2]
        sf.delete("Account", first)
        clock.advance(hours=2)
        sf.delete("Account", second)
        sf.purge_deleted_log(NOW + dt.timedelta(hours=1))
        clock.advance(minutes=1)
        params = {"start": "2024-06-01T11:00:00Z", "end": "2024-06-01T15:00:00Z"}

        body = api.rest("/sobjects/Account/deleted/", params=params).json()

        assert "2024-06-01T13:00:00.000+0000" == body["earliestDateAvailable"]
        assert [second] == [r["id"] for r in body["deletedRecords"]]

    def test_strict_deleted_window(self, clock):
        """With strict_deleted_window, a start before the log's reach is 400."""
        with SalesforceEmulator(
            now=clock, accounts=2, strict_deleted_window=True
        ) as sf:
            sf.purge_deleted_log(NOW)
            response = requests.get(
                f"{sf.url}/services/data/v62.0/sobjects/Account/deleted/",
                params={"start": "2024-06-01T11:00:00Z", "end": "2024-06-01T12:00:00Z"},
                headers={"Authorization": f"Bearer {sf.issue_access_token()}"},
                timeout=TIMEOUT,
            )

        assert (400, "INVALID_REPLICATION_DATE") == _error(response)


class TestChanges:
    def test_create_derives_fields_and_valid_ids(self, sf):
        """create() makes checksummed 18-character Ids and derives stage facts."""
        opportunity_id = sf.create(
            "Opportunity", Name="Deal", StageName="Closed Won", CloseDate="2024-06-30"
        )
        record = sf.records["Opportunity"][opportunity_id]

        assert opportunity_id.startswith("006")
        assert _checksum_ok(opportunity_id)
        assert (100.0, True, True, "Closed") == (
            record["Probability"],
            record["IsClosed"],
            record["IsWon"],
            record["ForecastCategoryName"],
        )
        assert dt.date(2024, 6, 30) == record["CloseDate"]
        assert NOW == record["CreatedDate"] == record["SystemModstamp"]

    def test_update_moves_stamps_unless_given(self, sf, clock):
        """update() stamps now; an explicit SystemModstamp builds a late commit."""
        contact_id = next(iter(sf.records["Contact"]))
        clock.advance(minutes=10)
        sf.update("Contact", contact_id, Title="CTO")
        moved = sf.records["Contact"][contact_id]["SystemModstamp"]
        late = NOW - dt.timedelta(hours=1)
        sf.update("Contact", contact_id, Title="CEO", SystemModstamp=late)
        record = sf.records["Contact"][contact_id]

        assert NOW + dt.timedelta(minutes=10) == moved
        assert late == record["SystemModstamp"] == record["LastModifiedDate"]

    def test_ties_on_one_stamp(self, sf, api):
        """set_stamps() gives 2,500 rows one SystemModstamp; all come back."""
        ids = sf.generate("Task", 2500)
        stamp = NOW - dt.timedelta(days=1)
        sf.set_stamps("Task", ids, stamp)

        pages = api.query_all_pages(
            "SELECT Id FROM Task WHERE SystemModstamp = 2024-05-31T12:00:00Z",
            batch=2000,
        )

        assert 2500 == pages[0]["totalSize"]
        assert sorted(ids) == sorted(_ids(pages))

    def test_generate_with_one_stamp(self, sf):
        """generate(stamp=...) makes records last modified at that instant."""
        stamp = NOW - dt.timedelta(hours=3)

        ids = sf.generate("Opportunity", 50, stamp=stamp)

        assert {stamp} == {sf.records["Opportunity"][i]["SystemModstamp"] for i in ids}

    def test_add_field_between_queries(self, sf, api):
        """A field added later is unknown before, then null, then settable."""
        soql = "SELECT Id, MyCompetitor__c FROM Opportunity ORDER BY Id LIMIT 1"
        before = api.query(soql)

        sf.add_field("Opportunity", "MyCompetitor__c", "string", label="Competitor")
        nulls = api.query(soql).json()["records"][0]
        sf.update("Opportunity", nulls["Id"], MyCompetitor__c="Globex")
        after = api.query(soql).json()["records"][0]
        fields = api.rest("/sobjects/Opportunity/describe").json()["fields"]

        assert (400, "INVALID_FIELD") == _error(before)
        assert nulls["MyCompetitor__c"] is None
        assert "Globex" == after["MyCompetitor__c"]
        assert {"name": "MyCompetitor__c", "label": "Competitor", "custom": True} == {
            k: v
            for k, v in next(
                f for f in fields if f["name"] == "MyCompetitor__c"
            ).items()
            if k in {"name", "label", "custom"}
        }

    def test_cross_object_formula_does_not_move_stamps(self, sf, api, clock):
        """A formula reading the parent changes without the child's stamps moving."""
        opportunity = next(iter(sf.records["Opportunity"].values()))
        soql = (
            "SELECT Account_Industry__c, SystemModstamp FROM Opportunity "
            f"WHERE Id = '{opportunity['Id']}'"
        )
        before = api.query(soql).json()["records"][0]
        clock.advance(minutes=1)
        sf.update("Account", opportunity["AccountId"], Industry="Zymurgy")

        after = api.query(soql).json()["records"][0]

        assert (
            "Zymurgy" == after["Account_Industry__c"] != before["Account_Industry__c"]
        )
        assert before["SystemModstamp"] == after["SystemModstamp"]


def _checksum_ok(record_id):
    """Check Salesforce's case-safe suffix independently of the emulator's code."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for chunk in (record_id[0:5], record_id[5:10], record_id[10:15]):
        bits = sum(1 << i for i, c in enumerate(chunk) if c.isupper())
        suffix += alphabet[bits]
    return len(record_id) == 18 and suffix == record_id[15:]


class TestBulk:
    def test_lifecycle_and_paged_csv(self, sf, api):
        """Create, 412 before completion, poll to JobComplete, page with locators."""
        soql = (
            "SELECT Id, Name, IsWon, Amount, CloseDate, SystemModstamp FROM Opportunity"
        )
        created = api.bulk(soql).json()
        job = created["id"]
        early = api.rest(f"/jobs/query/{job}/results")
        states = [api.rest(f"/jobs/query/{job}").json()["state"] for _ in range(2)]
        info = api.rest(f"/jobs/query/{job}").json()

        pages, locator = [], None
        while locator != "null":
            params = {"maxRecords": 15, **({"locator": locator} if locator else {})}
            response = api.rest(f"/jobs/query/{job}/results", params=params)
            pages.append(response)
            locator = response.headers["Sforce-Locator"]

        assert "UploadComplete" == created["state"]
        assert (412, "JOB_NOT_COMPLETE") == _error(early)
        assert ["InProgress", "JobComplete"] == states
        assert 40 == info["numberRecordsProcessed"]
        assert "V2Query" == info["jobType"]
        assert [15, 15, 10] == [int(p.headers["Sforce-NumberOfRecords"]) for p in pages]
        assert all(p.headers["Content-Type"].startswith("text/csv") for p in pages)
        rows = [_csv_rows(p.text) for p in pages]
        assert all(
            ["Id", "Name", "IsWon", "Amount", "CloseDate", "SystemModstamp"] == r[0]
            for r in rows
        )
        assert sorted(sf.records["Opportunity"]) == sorted(
            r[0] for p in rows for r in p[1:]
        )

    def test_csv_values(self, sf, api):
        """CSV: quoted cells, true/false, empty nulls, ...000Z datetimes."""
        opportunity_id = sf.create(
            "Opportunity",
            Name='Say "hi", Bob',
            StageName="Closed Lost",
            CloseDate="2024-07-01",
        )
        job = api.bulk(
            "SELECT Id, Name, IsWon, Amount, CloseDate, CreatedDate, Account.Name "
            f"FROM Opportunity WHERE Id = '{opportunity_id}'"
        ).json()["id"]
        api.bulk_complete(job)

        text = api.rest(f"/jobs/query/{job}/results").text

        assert (
            '"Id","Name","IsWon","Amount","CloseDate","CreatedDate","Account.Name"\n'
            f'"{opportunity_id}","Say ""hi"", Bob","false","","2024-07-01",'
            '"2024-06-01T12:00:00.000Z",""\n'
        ) == text
        assert BULK_DATETIME.match(_csv_rows(text)[1][5])

    @pytest.mark.parametrize(
        ("soql", "message"),
        [
            (
                "SELECT Id, BillingAddress FROM Account",
                "Selecting compound data not supported in Bulk Query",
            ),
            (
                "SELECT Id, HQ_Location__c FROM Account",
                "Selecting compound data not supported in Bulk Query",
            ),
            ("SELECT Id, Logo__c FROM Account", "Binary field not supported"),
        ],
    )
    def test_compound_and_binary_fields_are_refused(self, api, soql, message):
        """Bulk jobs refuse compound and base64 fields; their parts are fine."""
        response = api.bulk(soql)

        assert [{"message": message, "errorCode": "API_ERROR"}] == response.json()
        assert 400 == response.status_code
        assert (
            200
            == api.bulk(
                "SELECT Id, BillingCity, HQ_Location__Latitude__s FROM Account"
            ).status_code
        )

    def test_bad_soql_is_refused_at_creation(self, api):
        """Invalid SOQL in a job is 400 with the SOQL error code."""
        assert (400, "INVALID_FIELD") == _error(api.bulk("SELECT Nope FROM Account"))
        assert (400, "API_ERROR") == _error(api.bulk("SELECT COUNT() FROM Account"))

    def test_query_all_includes_deleted(self, sf, api):
        """A queryAll job returns Recycle Bin rows."""
        account_id = next(iter(sf.records["Account"]))
        sf.delete("Account", account_id)
        soql = f"SELECT Id, IsDeleted FROM Account WHERE Id = '{account_id}'"

        counts = {}
        for operation in ("query", "queryAll"):
            job = api.bulk(soql, operation).json()["id"]
            counts[operation] = api.bulk_complete(job)["numberRecordsProcessed"]

        assert {"query": 0, "queryAll": 1} == counts

    def test_abort_and_delete(self, api):
        """PATCH Aborted stops a job; DELETE removes it."""
        job = api.bulk("SELECT Id FROM Account").json()["id"]
        url = f"{api.base}/jobs/query/{job}"

        aborted = api.session.patch(url, json={"state": "Aborted"}, timeout=TIMEOUT)
        results = api.rest(f"/jobs/query/{job}/results")
        deleted = api.session.delete(url, timeout=TIMEOUT)

        assert "Aborted" == aborted.json()["state"]
        assert 400 == results.status_code
        assert 204 == deleted.status_code
        assert (404, "NOT_FOUND") == _error(api.rest(f"/jobs/query/{job}"))

    def test_delimiter_and_line_ending(self, api):
        """The job's columnDelimiter and lineEnding shape the CSV."""
        job = api.bulk(
            "SELECT Id, Name FROM Account LIMIT 1",
            columnDelimiter="TAB",
            lineEnding="CRLF",
        ).json()
        api.bulk_complete(job["id"])

        text = api.rest(f"/jobs/query/{job['id']}/results").text

        assert ("TAB", "CRLF") == (job["columnDelimiter"], job["lineEnding"])
        assert text.startswith('"Id"\t"Name"\r\n')

    def test_job_list_and_abort_rules(self, api):
        """GET jobs/query lists jobs; a finished job cannot be aborted."""
        job = api.bulk("SELECT Id FROM Account").json()["id"]
        api.bulk_complete(job)

        listed = api.rest("/jobs/query").json()
        abort = api.session.patch(
            f"{api.base}/jobs/query/{job}", json={"state": "Aborted"}, timeout=TIMEOUT
        )

        assert [job] == [info["id"] for info in listed["records"]]
        assert (400, "INVALIDJOBSTATE") == _error(abort)

    def test_failed_job(self, sf, api):
        """fail_bulk_jobs() makes the next job end Failed with an errorMessage."""
        sf.fail_bulk_jobs("InternalServerError : Failed to process query")
        job = api.bulk("SELECT Id FROM Account").json()["id"]

        info = api.bulk_complete(job)

        assert ("Failed", "InternalServerError : Failed to process query") == (
            info["state"],
            info["errorMessage"],
        )

    def test_results_need_the_creating_version(self, api):
        """Results fetched with another API version are 409."""
        job = api.bulk("SELECT Id FROM Account").json()["id"]
        api.bulk_complete(job)

        response = api.get(f"/services/data/v61.0/jobs/query/{job}/results")

        assert 409 == response.status_code


class TestGenerator:
    def test_same_seed_same_data(self, clock):
        """The same seed and clock give identical records; another seed does not."""
        first = SalesforceEmulator(seed=3, now=clock).records
        again = SalesforceEmulator(seed=3, now=clock).records
        other = SalesforceEmulator(seed=4, now=clock).records

        assert first == again
        assert first != other

    def test_realistic_data(self, sf):
        """Ids are valid, stamps fall within 90 days, and some stamps are tied."""
        opportunities = list(sf.records["Opportunity"].values())
        stamps = [r["SystemModstamp"] for r in opportunities]

        assert all(_checksum_ok(r["Id"]) for r in opportunities)
        assert all(NOW - dt.timedelta(days=90) <= s <= NOW for s in stamps)
        assert all(
            r["CreatedDate"] <= r["LastModifiedDate"] <= r["SystemModstamp"]
            for r in opportunities
        )
        accounts = set(sf.records["Account"])
        assert all(r["AccountId"] in accounts for r in opportunities)
        assert _integration_user_is_first(sf)

    def test_ties_exist(self, clock):
        """Generated stamps include ties."""
        sf = SalesforceEmulator(seed=1, now=clock, accounts=100)

        stamps = [r["SystemModstamp"] for r in sf.records["Task"].values()]

        assert len(set(stamps)) < len(stamps)

    def test_200k_opportunities(self, clock):
        """Generating 200,000 opportunities completes (the time is printed)."""
        sf = SalesforceEmulator(now=clock, accounts=50)

        started = time.perf_counter()
        ids = sf.generate("Opportunity", 200_000)
        elapsed = time.perf_counter() - started
        print(f"generated 200,000 opportunities in {elapsed:.2f} s")

        assert 200_000 == len(ids)


def _integration_user_is_first(sf):
    user = next(iter(sf.records["User"].values()))
    return user["Username"] == sf.username and user["Id"] == sf.user_id


class TestFaults:
    def test_salesforce_error_fault(self, sf, api):
        """error_fault() answers with a Salesforce error array."""
        sf.inject(
            SalesforceEmulator.error_fault(
                503, "SERVER_UNAVAILABLE", "Server unavailable"
            )
        )

        failed = api.query("SELECT Id FROM Account")
        recovered = api.query("SELECT Id FROM Account")

        assert (503, "SERVER_UNAVAILABLE") == _error(failed)
        assert 200 == recovered.status_code

    def test_framework_faults_apply(self, sf, api):
        """Generic faults (malformed JSON, dropped bodies) hit Salesforce routes."""
        sf.inject(Fault.malformed(path=r"/query$"))
        sf.inject(Fault.drop_mid_body(path=r"/query$", skip=1))

        malformed = api.query("SELECT Id FROM Account")
        with pytest.raises(requests.exceptions.RequestException):
            api.query("SELECT Id FROM Account").json()

        with pytest.raises(ValueError):
            malformed.json()
