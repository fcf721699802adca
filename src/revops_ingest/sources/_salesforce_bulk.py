"""Bulk API 2.0 query jobs: create, wait, page the CSV results into Arrow.

``POST jobs/query`` creates the job (``queryAll``, so soft-deleted rows come too);
``GET jobs/query/{id}`` is polled with growing waits (through the client's
injectable ``sleep``) until ``JobComplete``; ``GET jobs/query/{id}/results`` is paged
with ``maxRecords`` and the ``Sforce-Locator`` header until the locator is the
string ``"null"``. Every page is parsed by :func:`pyarrow.csv.read_csv` with the
object's column types.

A job Salesforce refuses or fails (objects and features the Bulk API does not
support) raises :class:`BulkUnavailable` before any row is yielded, so the caller
can read the same window through REST instead.
"""

from __future__ import annotations

import contextlib
import typing

import attrs

from revops_ingest._http import vendor_error
from revops_ingest.exceptions import UnexpectedResponseError
from revops_ingest.sources._salesforce_types import csv_to_batch


if typing.TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa

    from revops_ingest.sources._salesforce_api import SalesforceApi
    from revops_ingest.sources._salesforce_types import ObjectPlan


__all__ = ["BLOCKLIST", "BulkOptions", "BulkQuery", "BulkUnavailable", "bulk_supported"]

SYSTEM = "Salesforce"

BLOCKLIST = frozenset(
    {
        # Objects the Bulk API refuses (the list Airbyte and tap-salesforce keep).
        "AcceptedEventRelation",
        "AssetTokenEvent",
        "AttachedContentNote",
        "Attachment",
        "CaseStatus",
        "ContractStatus",
        "DeclinedEventRelation",
        "EventWhoRelation",
        "FieldSecurityClassification",
        "OrderStatus",
        "PartnerRole",
        "QuoteTemplateRichTextData",
        "RecentlyViewed",
        "ServiceAppointmentStatus",
        "SolutionStatus",
        "TaskPriority",
        "TaskStatus",
        "TaskWhoRelation",
        "UndecidedEventRelation",
    }
)
"""Objects always read through REST."""

_RUNNING = frozenset({"Open", "UploadComplete", "InProgress"})
_NO_MORE = "null"
_CREATED = range(200, 300)
_REFUSED = frozenset({400, 404})


def bulk_supported(plan: ObjectPlan, blocklist: frozenset[str]) -> bool:
    """Whether the Bulk API can read *plan* (object and every field)."""
    name = plan.name
    return (
        plan.bulk_ok
        and name not in blocklist
        and not name.endswith(("ChangeEvent", "__e", "__x", "__b"))
    )


class BulkUnavailable(Exception):  # noqa: N818 - a verdict, caught by the source
    """The Bulk API will not run this query; read it through REST instead."""


@attrs.frozen(kw_only=True)
class BulkOptions:
    """How Bulk API 2.0 jobs are run.

    Attributes:
        max_records: Records per results page (``maxRecords``); bounds memory.
        poll_initial: Seconds before the first status check.
        poll_max: The longest wait between status checks.
        timeout: Seconds of waiting after which an unfinished job is aborted and
            the sync fails.
    """

    max_records: int = 20_000
    poll_initial: float = 0.5
    poll_max: float = 15.0
    timeout: float = 3600.0


@attrs.define
class BulkQuery:
    """One query job.

    Attributes:
        api: The REST calls (and the client).
        plan: What is read, and the column types.
        soql: The query.
        operation: ``"queryAll"`` (with deleted rows) or ``"query"``.
        options: Paging and polling.
    """

    api: SalesforceApi
    plan: ObjectPlan
    soql: str
    operation: typing.Literal["query", "queryAll"] = "queryAll"
    options: BulkOptions = attrs.Factory(BulkOptions)
    job_id: str | None = None

    @property
    def _path(self) -> str:
        return f"jobs/query/{self.job_id}"

    def run(self) -> None:
        """Create the job and wait until its results are ready.

        Raises:
            BulkUnavailable: Salesforce refused or failed the job.
            UnexpectedResponseError: The job did not finish within the timeout.
        """
        self._create()
        self._wait()

    def _create(self) -> None:
        name = self.plan.name
        response = self.api.request(
            "POST",
            "jobs/query",
            object_type=name,
            json={
                "operation": self.operation,
                "query": self.soql,
                "contentType": "CSV",
                "columnDelimiter": "COMMA",
                "lineEnding": "LF",
            },
            ok=set(_CREATED) | _REFUSED,
        )
        if response.status_code in _REFUSED:
            code, message = vendor_error(response.content)
            reason = ": ".join(p for p in (code, message) if p) or str(
                response.status_code
            )
            msg = f"the Bulk API refused the query job ({reason})"
            raise BulkUnavailable(msg)
        answer = self.api.http.decode_json(response, object_type=name)
        job_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(job_id, str) or not job_id:
            raise self.api.unexpected(response, "the new job has no 'id'", name)
        self.job_id = job_id

    def _wait(self) -> None:
        http = self.api.http
        name = self.plan.name
        waited = 0.0
        wait = self.options.poll_initial
        while True:
            answer = self.api.get_json(self._path, object_type=name)
            state = answer.get("state") if isinstance(answer, dict) else None
            if state == "JobComplete":
                return
            if state in {"Failed", "Aborted"}:
                said = answer.get("errorMessage") if isinstance(answer, dict) else None
                msg = f"the Bulk API job {self.job_id} ended {state}"
                raise BulkUnavailable(msg + (f": {said}" if said else ""))
            if state not in _RUNNING:
                raise UnexpectedResponseError(
                    f"the Bulk API job {self.job_id} is in an unknown state {state!r}",
                    source=SYSTEM,
                    object_type=name,
                    method="GET",
                    path=f"{self.api.root}/{self._path}",
                )
            if waited + wait > self.options.timeout:
                self._abort()
                raise UnexpectedResponseError(
                    f"the Bulk API job {self.job_id} did not finish within "
                    f"{self.options.timeout:g} s; it was aborted",
                    source=SYSTEM,
                    object_type=name,
                    hint="raise bulk_timeout, or lower bulk_threshold's reach with "
                    "smaller windows (sync more often)",
                )
            http.sleep(wait)
            http.metrics.wait_seconds += wait
            waited += wait
            wait = min(wait * 2, self.options.poll_max)

    def _abort(self) -> None:
        with contextlib.suppress(UnexpectedResponseError):  # the job expires anyway
            self.api.request(
                "PATCH",
                self._path,
                object_type=self.plan.name,
                json={"state": "Aborted"},
            )

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the results page by page, typed by the plan.

        Raises:
            UnexpectedResponseError: A page is not CSV that fits the plan.
        """
        name = self.plan.name
        locator: str | None = None
        while True:
            params: dict[str, str | int] = {"maxRecords": self.options.max_records}
            if locator is not None:
                params["locator"] = locator
            response = self.api.request(
                "GET",
                f"{self._path}/results",
                object_type=name,
                params=params,
                headers={"Accept": "text/csv"},
            )
            try:
                batch = csv_to_batch(response.content, self.plan)
            except ValueError as exc:
                raise self.api.unexpected(response, str(exc), name) from None
            yield batch
            locator = response.headers.get("Sforce-Locator")
            if not locator or locator == _NO_MORE:
                return
