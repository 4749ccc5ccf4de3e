"""How many validation and encoding passes one trigger makes (one of each: the payload is checked and
encoded once, in one place, and those bytes are sent)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

#: What is counted: the attribute validation and the body encoding of ``moengage_provider.api.payload``.
COUNTED = {"validations": "normalize_event_attributes", "encodings": "encode_body"}


@contextlib.contextmanager
def counting_passes() -> Iterator[dict[str, int]]:
    """Count calls of the payload's validation and encoding, under every name a provider module holds."""
    import moengage_provider.api.payload as payload

    counts = dict.fromkeys(COUNTED, 0)
    patched: list[tuple[Any, str, Any]] = []

    def counted(kind: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[kind] += 1
            return original(*args, **kwargs)

        return wrapper

    for kind, name in COUNTED.items():
        original = getattr(payload, name)
        wrapper = counted(kind, original)
        for module_name, module in list(sys.modules.items()):
            if module_name.startswith("moengage_provider") and getattr(module, name, None) is original:
                patched.append((module, name, original))
                setattr(module, name, wrapper)
    try:
        yield counts
    finally:
        for module, name, original in patched:
            setattr(module, name, original)


def passes_per_call(call: Callable[[], Any]) -> dict[str, int]:
    """The validations and encodings one ``call()`` makes."""
    with counting_passes() as counts:
        call()
    return dict(counts)


def passes_text(over: dict[str, Any], lead: str = "; validations / encodings per trigger: ") -> str:
    """``<lead>hook 1 / 1, operator execute() 1 / 1`` (or nothing when not measured)."""
    passes = over.get("passes")
    if not passes:
        return ""
    names = {"hook": "hook", "execute": "operator `execute()`"}
    shown = ", ".join(
        f"{names.get(who, who)} {counts['validations']} / {counts['encodings']}"
        for who, counts in passes.items()
    )
    return f"{lead}{shown}"
