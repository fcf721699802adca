"""Secrets that never show up in reprs, logs, exceptions or the audit log."""

from __future__ import annotations

import typing

import attrs


__all__ = ["Secret", "redact"]

_MASK = "**********"


@attrs.frozen(repr=False, eq=False)
class Secret:
    """A credential: an API token, a client secret, a private key, a password.

    ``repr()`` and ``str()`` show a mask, so a ``Secret`` can sit inside a config
    object that is logged or printed. Call :meth:`reveal` at the one place where the
    value goes on the wire.

    >>> token = Secret("pat-123")
    >>> token
    Secret('**********')
    >>> f"{token}"
    '**********'
    >>> token.reveal()
    'pat-123'
    """

    _value: str = attrs.field(alias="value")

    @_value.validator
    def _check(self, _attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str):
            msg = f"a Secret holds a str, not {type(value).__name__}"
            raise TypeError(msg)

    def reveal(self) -> str:
        """Return the secret value itself; only for putting it on the wire."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return self._value == other._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> typing.NoReturn:
        # Pickling would write the value to disk or send it to other processes.
        msg = "a Secret cannot be pickled; pass it to the process that needs it"
        raise TypeError(msg)


def as_secret(value: str | Secret) -> Secret:
    """Wrap *value* unless it already is a :class:`Secret`."""
    return value if isinstance(value, Secret) else Secret(value)


def redact(text: str, secrets: typing.Iterable[Secret | str | None]) -> str:
    """Replace every occurrence of any of *secrets* in *text* by a mask.

    Values shorter than four characters are left alone: masking them would mangle
    ordinary words while protecting nothing.
    """
    for secret in secrets:
        if secret is None:
            continue
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if len(value) >= 4:  # noqa: PLR2004
            text = text.replace(value, _MASK)
    return text
