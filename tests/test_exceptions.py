"""The error tree: every error has the documented parents and a readable message."""

from __future__ import annotations

import revops_ingest.exceptions as exc


class TestTree:
    def test_every_public_error_derives_from_the_base(self):
        """Catching RevOpsIngestError catches every error in the module."""
        for name in exc.__all__:
            assert issubclass(getattr(exc, name), exc.RevOpsIngestError), name

    def test_the_docstring_draws_every_error(self):
        """The module docstring's tree names each public error."""
        for name in exc.__all__:
            assert name in exc.__doc__, name

    def test_stdlib_parents_keep_except_clauses_working(self):
        """Configuration and schema errors are ValueErrors; not-found is a KeyError."""
        assert issubclass(exc.ConfigurationError, ValueError)
        assert issubclass(exc.SchemaError, ValueError)
        assert issubclass(exc.DatasetNotFoundError, KeyError)
        assert issubclass(exc.QuotaExceededError, exc.RateLimitError)


class TestSourceErrorMessage:
    def test_names_source_object_request_answer_and_hint(self):
        """The message reads: where, request, answer, detail, what to do."""
        error = exc.AuthenticationError(
            "Session expired or invalid",
            source="Salesforce",
            object_type="Opportunity",
            method="GET",
            path="/services/data/v62.0/query",
            status=401,
            vendor_code="INVALID_SESSION_ID",
            hint="check the connected app",
            grant="refresh_token",
        )

        assert (
            "Salesforce Opportunity: GET /services/data/v62.0/query -> 401 "
            "INVALID_SESSION_ID: Session expired or invalid (check the connected app)"
        ) == str(error)
        assert "refresh_token" == error.grant

    def test_a_bare_message_stays_bare(self):
        """Without context the message is just the detail."""
        assert "boom" == str(exc.TransportError("boom"))

    def test_not_found_message_is_not_quoted(self):
        """DatasetNotFoundError reads like a sentence, not a quoted KeyError."""
        error = exc.DatasetNotFoundError("no dataset /A/B", dataset="/A/B")

        assert "no dataset /A/B" == str(error)
        assert "/A/B" == error.dataset

    def test_rate_limit_carries_retry_after(self):
        """RateLimitError keeps how long the vendor asked us to wait."""
        assert 30.0 == exc.RateLimitError("slow down", retry_after=30.0).retry_after
