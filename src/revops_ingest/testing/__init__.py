"""Test your pipelines offline: emulators of vendor APIs on 127.0.0.1.

Every emulator is a real HTTP server in a background thread, speaking its vendor's
protocol (auth, paging, errors, rate limits), with scripted :class:`Fault` s for
chosen requests. Use one as a context manager, or through the pytest fixture
``emulator_factory`` (``pytest_plugins = ["revops_ingest.testing.pytest_plugin"]``).

:class:`ExampleCrmEmulator` and :class:`ExampleCrmSource` are the small, complete
example of *Writing a source*. Storage emulators for S3 (moto) and GCS are started by
:func:`moto_s3_server` and :func:`gcs_emulator`.
"""

from __future__ import annotations

from revops_ingest.testing._emulator import (
    Emulator,
    Fault,
    FaultHandle,
    RecordedRequest,
    Request,
    Response,
    route,
)
from revops_ingest.testing._example import ExampleCrmEmulator, ExampleCrmSource
from revops_ingest.testing._hubspot import HubSpotEmulator
from revops_ingest.testing._notifiers import (
    Incident,
    PagerDutyEmulator,
    SlackMessage,
    SlackWebhookEmulator,
)
from revops_ingest.testing._salesforce import SalesforceEmulator
from revops_ingest.testing._storage import (
    GCSServer,
    S3Server,
    gcs_emulator,
    moto_s3_server,
)
from revops_ingest.testing._zendesk import ZendeskEmulator


__all__ = [
    "Emulator",
    "ExampleCrmEmulator",
    "ExampleCrmSource",
    "Fault",
    "FaultHandle",
    "GCSServer",
    "HubSpotEmulator",
    "Incident",
    "PagerDutyEmulator",
    "RecordedRequest",
    "Request",
    "Response",
    "S3Server",
    "SalesforceEmulator",
    "SlackMessage",
    "SlackWebhookEmulator",
    "ZendeskEmulator",
    "gcs_emulator",
    "moto_s3_server",
    "route",
]
