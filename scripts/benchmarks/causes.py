"""For each missed target: the code responsible and a suggested fix, from the measurements."""

from __future__ import annotations

from typing import Any

from benchmarks.common import (
    RATE_LIMIT_TARGETS,
    TARGET_MAX_EXTRA_RSS_MIB,
)
from benchmarks.fmt import fmt
from benchmarks.passes import passes_text


def causes(results: dict[str, Any]) -> list[str]:
    """A paragraph per missed target, naming the code responsible and a fix, from the measurements."""
    out = []
    sections = results["sections"]
    parse, over, rl, mem = (sections.get(k, {}) for k in ("parse", "overhead", "ratelimit", "memory"))
    if parse.get("modules_pass") is False:
        names = parse["imports"]["operator"]["module_names"]
        out.append(
            f"**1, modules**: importing the operator adds {len(names)} modules: {', '.join(names)}. "
            "Anything not needed to construct the operator in a DAG file should be imported in `execute()`."
        )
    if parse.get("time_pass") is False:
        out.append(
            f"**1, import time**: {fmt(parse['time_ratio'] * 100, 1)} % of HttpOperator's. See the module list "
            "above for what the operator module imports at DAG-parse time."
        )
    if over.get("call_pass") is False:
        out.append(
            f"**2, per call**: passes per trigger are not one each{passes_text(over, lead=': ')} (validations "
            "/ encodings): something validates or encodes the payload again after `prepare_trigger`."
        )
    if rl.get("pass") is False:
        for r in (r for r in rl["runs"] if not r.get("pass")):
            out.append(
                f"**3** ({r['case']}, {r['shape']}, {r['mode']}): run {r['state']}, ratio {fmt(r['ratio'], 3)} "
                f"(target ≤ {RATE_LIMIT_TARGETS[r['case']]:.2f}), lost {r['lost']}, duplicated {r['duplicated']}, "
                f"{fmt(r['slot_seconds_waiting'], 2)} s waiting in a worker slot, errors {r['errors']}. A ratio "
                "just over the target on a loaded machine is `dag.test()`'s pace (one task at a time) and the "
                "inline trigger's one-second checks, against short windows: rerun with a longer "
                "`rl_five_minute_seconds`, or on a quieter machine; a ratio far over it is a wait that was too "
                "long (see the task log's wait lines: what decided each wait)."
            )
    if mem.get("pass") is False:
        steps = {s["step"]: s for s in mem.get("breakdown", {}).get("steps", [])}
        req = steps.get("import requests", {}).get("added_mib")
        http = steps.get("import airflow.providers.http.hooks.http", {}).get("added_mib")
        own = steps.get("import moengage_provider.hooks.moengage", {}).get("added_mib") or 0.0
        out.append(
            f"**4, memory** (+{fmt(mem['extra_mib'], 2)} MiB, target < {TARGET_MAX_EXTRA_RSS_MIB:g}): the task "
            "process loads `moengage_provider/hooks/moengage.py`, which imports "
            "`airflow.providers.http.hooks.http.HttpHook` at module level only to build its `requests` session "
            "(`MoEngageHook.session` via `_PreparedConnectionHttpHook(...).get_conn()`). That HTTP-provider "
            "module imports `aiohttp` (with `multidict`, `yarl`, `frozenlist`, `propcache`, "
            "`aiohappyeyeballs`) and `requests_toolbelt` at its top, for its async hook, which a MoEngage task never "
            f"uses: +{fmt(http, 2)} MiB in the breakdown above, on top of `requests` itself "
            f"(+{fmt(req, 2)} MiB), and most of the hook's import time (see the `-X importtime` table). "
            "The floor for any `requests`-based hook is the bare `requests` task: "
            f"+{fmt(mem['requests_extra_mib'], 2)} MiB (one POST included). **Decision: kept.** The provider "
            "is built on the HTTP provider's `HttpHook` on purpose (as the brief for the hook asked: its session, auth, proxy and TLS "
            "extras, so a connection behaves like every other HTTP connection in Airflow), and the cost is "
            "that module's import-time `aiohttp`, not our code. Dropping `HttpHook` for a bare "
            "`requests.Session()` would bring the task to about the `requests` floor plus our own modules "
            f"(+{fmt(own, 2)} MiB), i.e. about +{fmt(mem['requests_extra_mib'] + own, 1)} MiB; the better fix "
            "is upstream: import `aiohttp` lazily inside `HttpAsyncHook` in "
            "`airflow/providers/http/hooks/http.py`, which would remove it from every HTTP-provider task."
        )
    return out
