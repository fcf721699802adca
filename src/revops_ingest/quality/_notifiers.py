"""Notifiers: PagerDuty Events API v2, Slack incoming webhooks, e-mail over SMTP.

HTTP notifiers go through :class:`~revops_ingest.http.HttpClient` (time-outs,
retries with backoff, ``Retry-After``, secrets masked in errors). The e-mail
notifier uses :mod:`smtplib` with STARTTLS (or implicit TLS) and retries a few
times on connection trouble and temporary (4xx) replies. Every notifier raises on
final failure; :class:`~revops_ingest.quality.AlertRouter` turns that into a failed
delivery.
"""

from __future__ import annotations

import json
import time
import typing

from revops_ingest._secrets import Secret, as_secret, redact
from revops_ingest.exceptions import (
    AuthenticationError,
    ConfigurationError,
    TransportError,
    UnexpectedResponseError,
)
from revops_ingest.quality._result import jsonable
from revops_ingest.quality._severity import Severity


if typing.TYPE_CHECKING:
    import email.message
    import smtplib
    import ssl
    from collections.abc import Callable, Iterable, Sequence

    import requests

    from revops_ingest._http import HttpClient, RetryPolicy, Timeouts
    from revops_ingest.quality._alerts import Action, Alert

# requests, smtplib, ssl and email are imported when a notifier is built or used:
# ``import revops_ingest.quality`` stays cheap for code that only checks data.


__all__ = [
    "PAGERDUTY_SEVERITY",
    "EmailNotifier",
    "Notifier",
    "PagerDutyNotifier",
    "SlackNotifier",
]

PAGERDUTY_SEVERITY: typing.Final[dict[Severity, str]] = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "info",
}
"""Our severities as PagerDuty's event severities."""

_SUMMARY_LIMIT = 1024  # PagerDuty truncates summaries at 1024 characters
_SLACK_TEXT_LIMIT = 3000  # characters per section block
_ITEMS_SHOWN = 10
_EMOJI = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.HIGH: ":red_circle:",
    Severity.MEDIUM: ":large_orange_circle:",
    Severity.LOW: ":large_blue_circle:",
}


class Notifier(typing.Protocol):
    """What the router needs from a notifier."""

    @property
    def kind(self) -> str:
        """``"pagerduty"``, ``"slack"`` or ``"email"``."""
        ...

    def send(self, alert: Alert, *, target: str | None = None) -> None:
        """Deliver *alert* (to *target*, such as a Slack channel, if given)."""
        ...

    def resolve(self, alert: Alert, *, target: str | None = None) -> None:
        """Say that *alert*'s problem is gone."""
        ...

    def preview(
        self, alert: Alert, *, action: Action = "trigger", target: str | None = None
    ) -> str:
        """What :meth:`send` (or :meth:`resolve`) would deliver, secrets masked."""
        ...

    def secrets(self) -> Iterable[Secret]:
        """Secrets to mask in anything reported about this notifier."""
        ...


class _MaskOnly:
    """An auth that adds nothing and only tells the client what to mask."""

    name = "none"

    def __init__(self, secrets: Sequence[Secret]) -> None:
        self._secrets = tuple(secrets)

    def apply(self, request: requests.PreparedRequest, http: HttpClient) -> None:
        """Add nothing: the secret is in the body or the URL."""

    def refresh(self, http: HttpClient) -> bool:  # noqa: ARG002
        """Nothing to refresh."""
        return False

    def secrets(self) -> Iterable[Secret]:
        """The secrets to mask."""
        return self._secrets


def _item_line(item: typing.Any, *, markdown: bool) -> str:
    name = f"*{item.name}*" if markdown else item.name
    return f"[{item.severity.value}] {name}: {item.message}"


def _client(
    *,
    source: str,
    base_url: str,
    secrets: Sequence[Secret],
    timeouts: Timeouts | None,
    retry: RetryPolicy | None,
    session: requests.Session | None,
    sleep: Callable[[float], None],
) -> HttpClient:
    from revops_ingest._http import (  # noqa: PLC0415 - requests only when needed
        HttpClient,
        RetryPolicy,
        Timeouts,
    )

    return HttpClient(
        source=source,
        base_url=base_url,
        auth=_MaskOnly(secrets),
        timeouts=timeouts or Timeouts(connect=5.0, read=15.0),
        retry=retry or RetryPolicy(max_tries=4, max_time=60.0, initial_wait=1.0),
        session=session,
        sleep=sleep,
    )


# ---------------------------------------------------------------- PagerDuty


class PagerDutyNotifier:
    """PagerDuty Events API v2: trigger and resolve, deduplicated by the alert key.

    Args:
        routing_key: The integration key of the service (a secret).
        base_url: The Events API origin; an emulator's URL in tests.
        source: The ``payload.source`` of every event.
        group: The ``payload.group`` of every event.
        timeouts: Connect and read time-outs.
        retry: The retry policy; events are retried on 429, 5xx and dropped
            connections (PagerDuty deduplicates a repeated event by its key).
        session: A ready ``requests`` session.
        sleep: How to wait between retries (a seam for tests).
    """

    kind = "pagerduty"

    def __init__(
        self,
        routing_key: Secret | str,
        *,
        base_url: str = "https://events.pagerduty.com",
        source: str = "revops_ingest",
        group: str = "revops-data-quality",
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.routing_key = as_secret(routing_key)
        if not self.routing_key:
            raise ConfigurationError("PagerDutyNotifier needs a routing key")
        self.source = source
        self.group = group
        self._http = _client(
            source="PagerDuty",
            base_url=base_url,
            secrets=[self.routing_key],
            timeouts=timeouts,
            retry=retry,
            session=session,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"<PagerDutyNotifier {self._http.base_url}>"

    def close(self) -> None:
        """Close the HTTP session."""
        self._http.close()

    def secrets(self) -> Iterable[Secret]:
        """The routing key."""
        return (self.routing_key,)

    def event(self, alert: Alert, action: Action = "trigger") -> dict[str, typing.Any]:
        """The Events API v2 body for *alert* (routing key included)."""
        body: dict[str, typing.Any] = {
            "routing_key": self.routing_key.reveal(),
            "event_action": action,
            "dedup_key": alert.key[:255],
        }
        if action != "trigger":
            return body
        body["payload"] = {
            "summary": alert.summary[:_SUMMARY_LIMIT],
            "source": self.source,
            "severity": PAGERDUTY_SEVERITY[alert.severity],
            "timestamp": alert.created_at.isoformat(),
            "component": alert.source,
            "group": self.group,
            "class": alert.kind,
            "custom_details": {
                "alert_key": alert.key,
                "run_id": alert.run_id,
                "problems": [i.to_dict() for i in alert.items[:_ITEMS_SHOWN]],
                **{k: jsonable(v) for k, v in alert.details.items()},
            },
        }
        body["client"] = "revops_ingest"
        return body

    def _post(self, body: dict[str, typing.Any]) -> None:
        response = self._http.request(
            "POST", "/v2/enqueue", json=body, idempotent=True, ok=range(200, 300)
        )
        answer = self._http.decode_json(response)
        if isinstance(answer, dict) and answer.get("status") not in {None, "success"}:
            raise self._http.error(
                UnexpectedResponseError,
                f"PagerDuty did not accept the event: {answer.get('message')}",
                method="POST",
                url=response.url,
                status=response.status_code,
            )

    def send(self, alert: Alert, *, target: str | None = None) -> None:  # noqa: ARG002
        """Trigger (or update) the incident keyed by the alert's dedup key."""
        self._post(self.event(alert, "trigger"))

    def resolve(self, alert: Alert, *, target: str | None = None) -> None:  # noqa: ARG002
        """Resolve the incident keyed by the alert's dedup key."""
        self._post(self.event(alert, "resolve"))

    def preview(
        self,
        alert: Alert,
        *,
        action: Action = "trigger",
        target: str | None = None,  # noqa: ARG002
    ) -> str:
        """The event as JSON, routing key masked."""
        body = self.event(alert, action)
        body["routing_key"] = str(self.routing_key)
        return json.dumps(body, indent=2)


# ---------------------------------------------------------------- Slack


class SlackNotifier:
    """A Slack incoming webhook: a readable message listing the failing checks.

    The message has Block Kit blocks (a header, the failing checks, a context
    line) and a plain ``text`` fallback for notifications. The webhook decides the
    channel; a rule's ``#channel`` is shown in the message and picks the notifier
    when notifiers are registered per channel (``"slack:#data-quality"``).

    Args:
        webhook_url: The webhook URL (a secret: its path is the credential).
        timeouts: Connect and read time-outs.
        retry: The retry policy; a message is retried on 429 and 503 only (Slack
            may have posted it on other failures).
        session: A ready ``requests`` session.
        sleep: How to wait between retries (a seam for tests).
    """

    kind = "slack"

    def __init__(
        self,
        webhook_url: Secret | str,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.webhook_url = as_secret(webhook_url)
        url = self.webhook_url.reveal()
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in {"http", "https"} or "/" not in rest:
            raise ConfigurationError(
                "SlackNotifier needs the webhook URL, like "
                "https://hooks.slack.com/services/T000/B000/XXXX"
            )
        origin, _, path = rest.partition("/")
        self._path = "/" + path
        self._http = _client(
            source="Slack",
            base_url=f"{scheme}://{origin}",
            secrets=[self.webhook_url, Secret(self._path)],
            timeouts=timeouts,
            retry=retry,
            session=session,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return "<SlackNotifier **********>"

    def close(self) -> None:
        """Close the HTTP session."""
        self._http.close()

    def secrets(self) -> Iterable[Secret]:
        """The webhook URL and its path."""
        return (self.webhook_url, Secret(self._path))

    def message(
        self, alert: Alert, action: Action = "trigger", target: str | None = None
    ) -> dict[str, typing.Any]:
        """The webhook body for *alert*."""
        where = f" ({target})" if target else ""
        if action == "resolve":
            text = (
                f":white_check_mark: Resolved: {alert.source} is healthy again{where}"
            )
            return {
                "text": text,
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": text}}
                ],
            }
        emoji = _EMOJI[alert.severity]
        head = f"{emoji} {alert.severity.value.upper()}: {alert.source}"
        lines = [
            f"• {_item_line(i, markdown=True)}" for i in alert.items[:_ITEMS_SHOWN]
        ]
        for line_no, item in enumerate(alert.items[:_ITEMS_SHOWN]):
            if item.samples:
                shown = ", ".join(f"`{jsonable(s)}`" for s in item.samples)
                lines[line_no] += f"\n    samples: {shown}"
        if len(alert.items) > _ITEMS_SHOWN:
            lines.append(f"… and {len(alert.items) - _ITEMS_SHOWN} more")
        body = "\n".join(lines)[:_SLACK_TEXT_LIMIT]
        context = f"alert `{alert.key}` · run `{alert.run_id}`{where}"
        fallback = f"{alert.summary}\n" + "\n".join(
            f"- {_item_line(i, markdown=False)}" for i in alert.items[:_ITEMS_SHOWN]
        )
        return {
            "text": fallback,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": head[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": body}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
            ],
        }

    def _post(self, body: dict[str, typing.Any]) -> None:
        self._http.request("POST", self._path, json=body, ok=range(200, 300))

    def send(self, alert: Alert, *, target: str | None = None) -> None:
        """Post the alert."""
        self._post(self.message(alert, "trigger", target))

    def resolve(self, alert: Alert, *, target: str | None = None) -> None:
        """Post that the problem is gone."""
        self._post(self.message(alert, "resolve", target))

    def preview(
        self, alert: Alert, *, action: Action = "trigger", target: str | None = None
    ) -> str:
        """The message as JSON."""
        return json.dumps(
            self.message(alert, action, target), indent=2, ensure_ascii=False
        )


# ---------------------------------------------------------------- e-mail

Security = typing.Literal["starttls", "ssl", "none"]
_TEMPORARY = range(400, 500)


class EmailNotifier:
    """E-mail over SMTP with STARTTLS (or implicit TLS) and login.

    Args:
        host: The SMTP server.
        port: Its port (587 for STARTTLS, 465 for implicit TLS).
        sender: The ``From`` address.
        recipients: Default recipients; a rule's target (``"Email a@x, b@x"``)
            replaces them.
        username: Login name, if the server wants one.
        password: Login password (a secret).
        security: ``"starttls"`` (default), ``"ssl"`` (implicit TLS) or ``"none"``
            (only without login: a password never goes out in clear).
        ssl_context: The TLS context; the system's trust store by default.
        timeout: Seconds for the connection and each reply.
        max_tries: Attempts in all, on connection trouble and 4xx replies.
        retry_wait: Seconds before the second try, doubled after that.
        sleep: How to wait between tries (a seam for tests).
        local_hostname: The name sent with ``EHLO``.
    """

    kind = "email"

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        sender: str,
        recipients: Sequence[str] = (),
        username: str | None = None,
        password: Secret | str | None = None,
        security: Security = "starttls",
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 15.0,
        max_tries: int = 3,
        retry_wait: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        local_hostname: str | None = None,
    ) -> None:
        if security not in {"starttls", "ssl", "none"}:
            raise ConfigurationError(
                f"security must be 'starttls', 'ssl' or 'none', not {security!r}"
            )
        if security == "none" and username is not None:
            raise ConfigurationError(
                "EmailNotifier will not log in without TLS; use security='starttls' "
                "or 'ssl'"
            )
        if max_tries < 1:
            raise ConfigurationError(f"max_tries must be at least 1, not {max_tries!r}")
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = tuple(recipients)
        self.username = username
        self.password = as_secret(password) if password is not None else None
        self.security = security
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.max_tries = max_tries
        self.retry_wait = retry_wait
        self.sleep = sleep
        self.local_hostname = local_hostname

    def __repr__(self) -> str:
        return f"<EmailNotifier {self.host}:{self.port} {self.security}>"

    def secrets(self) -> Iterable[Secret]:
        """The password, if any."""
        return (self.password,) if self.password is not None else ()

    def _recipients(self, target: str | None) -> list[str]:
        if target:
            found = [a.strip() for a in target.replace(";", ",").split(",") if "@" in a]
            if found:
                return found
        if not self.recipients:
            raise ConfigurationError(
                "EmailNotifier has no recipients: give recipients= or an address in "
                "the rule ('Email data-eng@example.com')"
            )
        return list(self.recipients)

    def message(
        self, alert: Alert, action: Action = "trigger", target: str | None = None
    ) -> email.message.EmailMessage:
        """The e-mail for *alert*."""
        import email.message  # noqa: PLC0415 - see the module's imports
        import email.utils  # noqa: PLC0415

        msg = email.message.EmailMessage()
        if action == "resolve":
            subject = f"[revops_ingest] RESOLVED: {alert.source} is healthy again"
            body = (
                f"{alert.source} is healthy again; the alert {alert.key} is resolved.\n"
            )
        else:
            subject = f"[revops_ingest] {alert.summary}"
            lines = [
                alert.summary,
                "",
                f"Source:   {alert.source}",
                f"Severity: {alert.severity.value}",
                f"Run:      {alert.run_id}",
                f"Alert:    {alert.key}",
                "",
                "Problems:",
            ]
            for item in alert.items:
                lines.append(f"  - {_item_line(item, markdown=False)}")
                if item.samples:
                    shown = ", ".join(repr(jsonable(s)) for s in item.samples)
                    lines.append(f"    samples: {shown}")
            body = "\n".join(lines) + "\n"
        msg["Subject"] = " ".join(subject.split())[:250]
        msg["From"] = self.sender
        msg["To"] = ", ".join(self._recipients(target))
        msg["Date"] = email.utils.format_datetime(alert.created_at)
        msg["Message-ID"] = email.utils.make_msgid(domain="revops-ingest.invalid")
        msg["X-RevOps-Alert-Key"] = alert.key
        msg["X-RevOps-Severity"] = alert.severity.value
        msg.set_content(body)
        return msg

    def _connect(self) -> smtplib.SMTP:
        import smtplib  # noqa: PLC0415 - see the module's imports
        import ssl  # noqa: PLC0415

        context = self.ssl_context or ssl.create_default_context()
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=self.timeout,
                context=context,
                local_hostname=self.local_hostname,
            )
        smtp = smtplib.SMTP(
            self.host,
            self.port,
            timeout=self.timeout,
            local_hostname=self.local_hostname,
        )
        try:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _error(self, exc: BaseException, tries: int) -> Exception:
        import smtplib  # noqa: PLC0415 - see the module's imports

        detail = redact(f"{type(exc).__name__}: {exc}", self.secrets())
        where = f"{self.host}:{self.port}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return AuthenticationError(
                f"the SMTP server {where} rejected the login: {detail}",
                source="SMTP",
                hint="check the username and password",
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return UnexpectedResponseError(
                f"the SMTP server {where} does not offer what is needed: {detail}",
                source="SMTP",
                hint="check security= (starttls or ssl) and the port",
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            return UnexpectedResponseError(
                f"the SMTP server {where} refused the message after {tries} "
                f"tr{'ies' if tries > 1 else 'y'}: {detail}",
                source="SMTP",
            )
        return TransportError(
            f"could not talk to the SMTP server {where} after {tries} "
            f"tr{'ies' if tries > 1 else 'y'}: {detail}",
            source="SMTP",
            hint="check host, port and the network",
        )

    @staticmethod
    def _retryable(exc: BaseException) -> bool:
        import smtplib  # noqa: PLC0415 - see the module's imports
        import ssl  # noqa: PLC0415

        if isinstance(
            exc, (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError)
        ):
            return False
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            return all(code in _TEMPORARY for code in codes)
        if isinstance(exc, smtplib.SMTPResponseException):
            return exc.smtp_code in _TEMPORARY
        return isinstance(
            exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError)
        ) and not isinstance(exc, ssl.SSLCertVerificationError)

    def _deliver(self, msg: email.message.EmailMessage) -> None:
        import smtplib  # noqa: PLC0415 - see the module's imports

        for attempt in range(1, self.max_tries + 1):
            try:
                smtp = self._connect()
                try:
                    if self.username is not None:
                        password = self.password.reveal() if self.password else ""
                        smtp.login(self.username, password)
                    smtp.send_message(msg)
                finally:
                    try:
                        smtp.quit()
                    except (smtplib.SMTPException, OSError):
                        smtp.close()
            except (smtplib.SMTPException, OSError) as exc:  # noqa: PERF203 - a few tries
                if attempt >= self.max_tries or not self._retryable(exc):
                    raise self._error(exc, attempt) from None
                self.sleep(self.retry_wait * 2 ** (attempt - 1))
            else:
                return

    def send(self, alert: Alert, *, target: str | None = None) -> None:
        """Send the alert e-mail."""
        self._deliver(self.message(alert, "trigger", target))

    def resolve(self, alert: Alert, *, target: str | None = None) -> None:
        """Send a short "resolved" e-mail."""
        self._deliver(self.message(alert, "resolve", target))

    def preview(
        self, alert: Alert, *, action: Action = "trigger", target: str | None = None
    ) -> str:
        """The e-mail as text."""
        return self.message(alert, action, target).as_string()
