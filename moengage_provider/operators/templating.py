"""Template rendering that leaves plain strings alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
