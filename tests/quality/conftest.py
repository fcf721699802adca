"""Fixtures for the quality tests: a lake, audit rows, and an SMTP server with TLS.

Spark comes from tests/conftest.py.
"""

from __future__ import annotations

import os
import ssl
import sys
import types
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from hypothesis import settings

from revops_ingest import Lake


sys.path.insert(0, str(Path(__file__).parent))

from quality_helpers import free_port, self_signed


settings.register_profile("quality-fast", max_examples=10)
if os.environ.get("FAST") == "1":
    settings.load_profile("quality-fast")


@pytest.fixture(name="lake")
def _lake(tmp_path):
    return Lake(tmp_path / "lake")


class _Mailbox:
    """An aiosmtpd handler that keeps messages, and fails some on request."""

    def __init__(self):
        self.messages = []
        self.refuse = 0  # answer the next n messages with 451 (temporary)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        self.messages.append(
            types.SimpleNamespace(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.content,
                login=session.auth_data if session.authenticated else None,
                tls=session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 OK"


def _start_smtp(tmp_path, **options):
    """Start aiosmtpd on 127.0.0.1 with a fresh self-signed certificate."""
    cert, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == b"alerts"
            and auth_data.password == b"s3cret-pass"
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    mailbox = _Mailbox()
    port = free_port()
    implicit = options.pop("implicit_tls", False)
    # With implicit TLS the whole session is encrypted, but aiosmtpd only counts
    # STARTTLS as TLS for auth_require_tls.
    settings_ = (
        {"ssl_context": server_context, "auth_require_tls": False}
        if implicit
        else {
            "tls_context": server_context,
            "require_starttls": True,
            "auth_require_tls": True,
        }
    )
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        **settings_,
        **options,
    )
    controller.start()
    server = types.SimpleNamespace(
        host="127.0.0.1",
        port=port,
        mailbox=mailbox,
        client_context=ssl.create_default_context(cafile=str(cert)),
    )
    return controller, server


@pytest.fixture(name="smtp_server")
def _smtp_server(tmp_path):
    """A real SMTP server on 127.0.0.1: STARTTLS required, AUTH only over TLS."""
    controller, server = _start_smtp(tmp_path)
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture(name="smtp_login_only")
def _smtp_login_only(tmp_path):
    """The same, offering AUTH LOGIN only (smtplib prefers PLAIN otherwise)."""
    controller, server = _start_smtp(tmp_path, auth_exclude_mechanism=["PLAIN"])
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture(name="smtps_server")
def _smtps_server(tmp_path):
    """An SMTP server with implicit TLS (SMTPS)."""
    controller, server = _start_smtp(tmp_path, implicit_tls=True)
    try:
        yield server
    finally:
        controller.stop()
