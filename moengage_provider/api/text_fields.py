"""
The text fields of a business event: the event name and ``triggered_by``, and the plain-text rules
every name and string value follows (valid UTF-8, no NUL, names without invisible characters).

Also home of :class:`InvalidBusinessEventError`, which every payload check raises (a task turns it
into ``MoEngageValidationError``: ``moengage_provider.exceptions.invalid_event_fails_the_task``).
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any


class InvalidBusinessEventError(ValueError):
    """A business event MoEngage could not take; ``field`` names the part at fault."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


def plain_text(value: str, where: str, *, name: bool = False) -> str:
    """
    A plain ``str`` copy (a subclass's overrides never run), refusing what strict JSON readers refuse;
    ``name=True`` (names and addresses, matched exactly) also refuses invisible characters.
    """
    text = str.__str__(value)  # the str itself, or a subclass's characters as a plain str
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise InvalidBusinessEventError(
                where,
                f"holds a lone surrogate (U+{ord(text[err.start]):04X} at position {err.start}), which "
                "UTF-8 cannot carry; the text was probably decoded wrongly upstream.",
            ) from None
    if "\x00" in text:
        raise InvalidBusinessEventError(
            where, "holds a NUL character (U+0000), which many JSON readers refuse."
        )
    if name and not text.isprintable():  # fast path: printable text holds none of the refused categories
        for position, char in enumerate(text):
            if unicodedata.category(char) in _INVISIBLE:
                raise InvalidBusinessEventError(
                    where,
                    f"holds the invisible or control character U+{ord(char):04X} at position {position}; "
                    "names are matched exactly in MoEngage, so use visible characters only.",
                )
    return text


#: Unicode categories refused in names: controls, format characters (zero-width...), line separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def validate_event_name(event_name: object) -> str:
    """Return the event name, or explain why MoEngage would not know it."""
    if not issubclass(type(event_name), str):
        raise InvalidBusinessEventError(
            "event_name",
            f"must be a string (the business event's name in MoEngage), got {type(event_name).__name__}.",
        )
    name = plain_text(event_name, "event_name", name=True)  # type: ignore[arg-type]
    if not name.strip():
        raise InvalidBusinessEventError(
            "event_name", "is empty; set it to the name of a business event created in MoEngage."
        )
    if name != name.strip():
        raise InvalidBusinessEventError(
            "event_name",
            f"{short(repr(name))} has leading or trailing whitespace; MoEngage matches names exactly.",
        )
    return name


def validate_triggered_by(
    triggered_by: object, *, strict: bool = True, field: str = "triggered_by"
) -> str | None:
    """
    Return the email (or None), or explain why MoEngage would reject it.

    Checked with ``email-validator`` as the OpenAPI ``format: email`` reads (RFC 5321, ASCII only: no
    quoted local parts, IP literals, internationalized addresses or reserved domains); no DNS lookup.
    ``strict=False`` (DAG parse time, where importing the validator would cost every parse ~45 ms)
    checks only the shape: one ``@``, a dotted domain, no spaces; the task checks strictly. ``field``
    names it in errors (``created_by`` when an event is created).
    """
    if triggered_by is None:
        return None
    if not issubclass(type(triggered_by), str):
        raise InvalidBusinessEventError(
            field, f"must be an email address string or None, got {type(triggered_by).__name__}."
        )
    email = plain_text(triggered_by, field, name=True)  # type: ignore[arg-type]
    if not email.isascii():
        raise InvalidBusinessEventError(
            field,
            f"{short(repr(email))} is not plain ASCII; MoEngage takes RFC 5321 addresses (write an "
            "internationalized domain in its xn-- form).",
        )
    problem = _email_problem(email) if strict else _email_shape_problem(email)
    if problem:
        raise InvalidBusinessEventError(
            field,
            f"{short(repr(email))} is not an email address MoEngage accepts ({problem}); use e.g. "
            "'data-team@example.com' or leave it unset.",
        )
    return email


def _email_shape_problem(email: str) -> str:
    local, at, domain = email.rpartition("@")
    if not at or not local or "@" in local or "." not in domain.strip(".") or any(c.isspace() for c in email):
        return "an address needs one @, a name before it and a dotted domain after it, no spaces"
    return ""


@functools.lru_cache(maxsize=256)
def _email_problem(email: str) -> str:
    """Why ``email`` is refused ('' when it is fine); cached: a DAG sends from a handful of addresses."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(
            email,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as err:
        return str(err)
    return ""


def short(value: Any, limit: int = 60) -> str:
    """The value for a message: its text, cut short (a 400-digit fraction is not a message)."""
    try:
        text = str(value)
    except Exception:
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."
