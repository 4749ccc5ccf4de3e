"""Template rendering that leaves plain strings alone, and the checks of operator arguments that are
final when the DAG file is parsed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from moengage_provider.api.payload import InvalidBusinessEventError

_MARKERS = ("{{", "{%", "{#")


def has_template_markers(value: str) -> bool:
    """Whether Jinja would do anything with this string."""
    return any(marker in value for marker in _MARKERS)


def is_literal(value: Any) -> bool:
    """True when the value holds no template string and no XComArg: it is final at parse time."""
    if isinstance(value, str):
        return not has_template_markers(value)
    if isinstance(value, Mapping):
        return all(is_literal(k) and is_literal(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(is_literal(item) for item in value)
    return not hasattr(value, "resolve")


class PlainStringsStayPlain:
    """
    Mixin for operators and notifiers: a string without Jinja markers is returned as it is.

    It saves compiling a template per literal attribute value (most of the rendering time), and it
    keeps ``"12"`` the string ``"12"`` even in a DAG with ``render_template_as_native_obj=True``,
    where Jinja's native mode would turn it into the number 12.
    """

    def render_template(
        self, content: Any, context: Any, jinja_env: Any = None, seen_oids: set[int] | None = None
    ) -> Any:
        if isinstance(content, str) and not has_template_markers(content):
            return content
        return super().render_template(content, context, jinja_env, seen_oids)  # type: ignore[misc]


def positive_duration(op: Any, name: str, value: Any) -> dt.timedelta:
    """``value``, when it is a positive duration; else refuse it when the DAG file is parsed."""
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise ValueError(
            f"{type(op).__name__} {op.task_id!r}: {name} must be a positive datetime.timedelta, got {value!r}."
        )
    return value


def one_of(op: Any, name: str, value: str, choices: tuple[str, ...]) -> str:
    """``value``, when it is one of ``choices``; else refuse it when the DAG file is parsed."""
    if value not in choices:
        modes = ", ".join(repr(m) for m in choices)
        raise ValueError(f"{type(op).__name__} {op.task_id!r}: {name} must be one of {modes}, got {value!r}.")
    return value


@contextmanager
def refused_at_parse(op: Any) -> Iterator[None]:
    """A value no template or XCom will change is wrong: fail the DAG file's parse, naming the task."""
    try:
        yield
    except InvalidBusinessEventError as err:
        raise ValueError(f"{type(op).__name__} {op.task_id!r}: {err}") from None
