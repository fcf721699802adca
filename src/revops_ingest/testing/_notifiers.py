"""Emulators of the alert channels: PagerDuty Events API v2 and Slack webhooks.

Both run on the :class:`~revops_ingest.testing.Emulator` framework (a real HTTP
server on 127.0.0.1, scripted :class:`~revops_ingest.testing.Fault` s) and record
what they accepted, so tests assert on what an on-call engineer or a channel would
have received. They validate requests the way the real services document it and
answer with the real services' status codes and bodies.
"""

from __future__ import annotations

import json
import secrets
import threading
import typing

import attrs

from revops_ingest.testing._emulator import Emulator, Request, Response, route


if typing.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


__all__ = ["Incident", "PagerDutyEmulator", "SlackMessage", "SlackWebhookEmulator"]

_PD_ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})
_PD_SEVERITIES = frozenset({"critical", "error", "warning", "info"})
_PD_SUMMARY_LIMIT = 1024
_PD_DEDUP_LIMIT = 255


@attrs.define
class Incident:
    """What PagerDuty would show for one dedup key.

    Attributes:
        dedup_key: The key.
        status: ``"triggered"``, ``"acknowledged"`` or ``"resolved"``.
        summary: The latest trigger's summary.
        severity: The latest trigger's severity.
        triggers: Trigger events received for it while it was open (the first
            opens it; later ones are deduplicated into it).
        events: Every event received for the key, oldest first.
    """

    dedup_key: str
    status: str
    summary: str
    severity: str
    triggers: int = 1
    events: list[dict[str, typing.Any]] = attrs.Factory(list)


class PagerDutyEmulator(Emulator):
    """PagerDuty's Events API v2 (``POST /v2/enqueue``) on loopback.

    A valid event is answered ``202 {"status": "success", "message": "Event
    processed", "dedup_key": ...}``; an invalid one ``400 {"status": "invalid
    event", "message": "Event object is invalid", "errors": [...]}``. A trigger
    for an open incident's key is deduplicated into it (no new page); a resolve
    closes it; a trigger after that opens a new one.

    Args:
        routing_keys: The integration keys accepted; any non-empty key if
            ``None``.

    Attributes:
        events: Every accepted event, oldest first.
        incidents: The incident of each dedup key.
    """

    def __init__(
        self,
        *,
        routing_keys: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.routing_keys = set(routing_keys) if routing_keys is not None else None
        self._lock = threading.Lock()
        self.events: list[dict[str, typing.Any]] = []
        self.incidents: dict[str, Incident] = {}
        self.pages = 0

    @property
    def open_incidents(self) -> list[Incident]:
        """Incidents not resolved, in the order they were opened."""
        with self._lock:
            return [i for i in self.incidents.values() if i.status != "resolved"]

    @staticmethod
    def _invalid(errors: list[str]) -> Response:
        return Response.json(
            {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": errors,
            },
            status=400,
        )

    def _errors(self, event: object) -> list[str]:
        if not isinstance(event, dict):
            return ["Event object must be a JSON object"]
        errors: list[str] = []
        key = event.get("routing_key")
        if not isinstance(key, str) or not key:
            errors.append("'routing_key' is missing or blank")
        elif self.routing_keys is not None and key not in self.routing_keys:
            errors.append("'routing_key' is invalid")
        action = event.get("event_action")
        if action not in _PD_ACTIONS:
            errors.append(
                "'event_action' is invalid (must be trigger, acknowledge or resolve)"
            )
        dedup = event.get("dedup_key")
        if dedup is not None and (
            not isinstance(dedup, str) or len(dedup) > _PD_DEDUP_LIMIT
        ):
            errors.append("'dedup_key' must be a string of at most 255 characters")
        if action in {"acknowledge", "resolve"} and not dedup:
            errors.append(f"'dedup_key' is required to {action}")
        if action == "trigger":
            errors.extend(self._payload_errors(event.get("payload")))
        return errors

    @staticmethod
    def _payload_errors(payload: object) -> list[str]:
        if not isinstance(payload, dict):
            return ["'payload' is missing or not an object"]
        errors: list[str] = []
        summary = payload.get("summary")
        if not isinstance(summary, str) or not summary:
            errors.append("'payload.summary' is missing or blank")
        elif len(summary) > _PD_SUMMARY_LIMIT:
            errors.append("'payload.summary' is longer than 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload.get("source"):
            errors.append("'payload.source' is missing or blank")
        if payload.get("severity") not in _PD_SEVERITIES:
            errors.append(
                "'payload.severity' is invalid "
                "(must be critical, error, warning or info)"
            )
        details = payload.get("custom_details")
        if details is not None and not isinstance(details, (dict, list, str)):
            errors.append("'payload.custom_details' must be an object")
        return errors

    @route("POST", "/v2/enqueue")
    def enqueue(self, request: Request) -> Response:
        """Accept one event."""
        try:
            event = json.loads(request.body)
        except ValueError:
            return self._invalid(["The request body is not valid JSON"])
        errors = self._errors(event)
        if errors:
            return self._invalid(errors)
        action = event["event_action"]
        key = event.get("dedup_key") or secrets.token_hex(16)
        with self._lock:
            self.events.append(event)
            incident = self.incidents.get(key)
            if action == "trigger":
                payload = event["payload"]
                if incident is None or incident.status == "resolved":
                    incident = Incident(
                        dedup_key=key,
                        status="triggered",
                        summary=payload["summary"],
                        severity=payload["severity"],
                    )
                    self.incidents[key] = incident
                    self.pages += 1
                else:
                    incident.triggers += 1
                    incident.summary = payload["summary"]
                    incident.severity = payload["severity"]
            elif incident is not None and incident.status != "resolved":
                incident.status = "resolved" if action == "resolve" else "acknowledged"
            if incident is not None:
                incident.events.append(event)
        return Response.json(
            {"status": "success", "message": "Event processed", "dedup_key": key},
            status=202,
        )


@attrs.frozen
class SlackMessage:
    """One message a webhook accepted.

    Attributes:
        channel: The channel the webhook posts to.
        payload: The JSON body.
    """

    channel: str
    payload: dict[str, typing.Any]

    @property
    def text(self) -> str:
        """The fallback text plus every text of its blocks, newline-separated."""
        parts = [str(self.payload.get("text") or "")]
        for block in self.payload.get("blocks") or []:
            text = block.get("text")
            if isinstance(text, dict):
                parts.append(str(text.get("text", "")))
            parts.extend(
                str(element["text"])
                for element in block.get("elements") or []
                if isinstance(element, dict) and "text" in element
            )
        return "\n".join(p for p in parts if p)


class SlackWebhookEmulator(Emulator):
    """Slack incoming webhooks (``POST /services/T…/B…/…``) on loopback.

    Answers ``200 ok`` (text) for a JSON body with ``text`` or ``blocks``;
    ``400 invalid_payload`` for a body that is not JSON, ``400 no_text`` without
    either, ``400 invalid_blocks`` for blocks that are not a list of objects with a
    ``type``, and ``404 no_service`` for an unknown webhook -- as Slack does.

    Args:
        channels: Channels to create a webhook for; ``("#data-quality",)`` by
            default. More with :meth:`add_webhook`.

    Attributes:
        messages: Every accepted message, oldest first.
    """

    def __init__(
        self,
        *,
        channels: Iterable[str] = ("#data-quality",),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self._lock = threading.Lock()
        self._hooks: dict[str, str] = {}
        self.messages: list[SlackMessage] = []
        for channel in channels:
            self.add_webhook(channel)

    def add_webhook(self, channel: str) -> str:
        """Create a webhook posting to *channel*; return its path."""
        path = (
            f"/services/T{secrets.token_hex(4).upper()}/B{secrets.token_hex(4).upper()}"
            f"/{secrets.token_urlsafe(18)}"
        )
        with self._lock:
            self._hooks[path] = channel
        return path

    @property
    def webhooks(self) -> Mapping[str, str]:
        """Webhook path -> channel."""
        with self._lock:
            return dict(self._hooks)

    def webhook_url(self, channel: str | None = None) -> str:
        """The full URL of *channel*'s webhook (the first webhook's by default)."""
        for path, name in self.webhooks.items():
            if channel is None or name == channel:
                return f"{self.url}{path}"
        msg = f"no webhook for {channel!r}; call add_webhook() first"
        raise KeyError(msg)

    def texts(self, channel: str | None = None) -> list[str]:
        """The text of every message (to *channel*, if given)."""
        with self._lock:
            return [m.text for m in self.messages if channel in {None, m.channel}]

    @route("POST", "/services/{team}/{bot}/{token}")
    def post(self, request: Request, team: str, bot: str, token: str) -> Response:
        """Accept one message."""
        channel = self.webhooks.get(f"/services/{team}/{bot}/{token}")
        if channel is None:
            return Response.text("no_service", status=404)
        try:
            payload = json.loads(request.body)
        except ValueError:
            return Response.text("invalid_payload", status=400)
        if not isinstance(payload, dict):
            return Response.text("invalid_payload", status=400)
        blocks = payload.get("blocks")
        if not payload.get("text") and not blocks:
            return Response.text("no_text", status=400)
        if blocks is not None and (
            not isinstance(blocks, list)
            or not all(isinstance(b, dict) and "type" in b for b in blocks)
        ):
            return Response.text("invalid_blocks", status=400)
        with self._lock:
            self.messages.append(SlackMessage(channel, payload))
        return Response.text("ok")
