"""Benchmark: what redaction costs, per value, per span and per log line, ordinary vs hostile input.

Three parts, each variant in its own (spawned) process, rounds interleaved inside it:

1. **Per value**: ``Scrubber.text`` on ordinary prose and on hostile shapes (the quadratic
   input of issue 11, ``"token " + "a." * n``, and others that make many matches) at 4, 16 and
   32 KB: µs per value, µs per KB, and the 32 KB / 16 KB ratio (2.0 = linear).
2. **Per span / per log line**: creating and ending an HTTP server span then the export-path
   scrub (``scrubbed_span``), and building a ``LogRecord`` then the logging filter
   (``RedactingFilter``): ordinary (values distinct each time, so no cache helps), carrying
   secrets, and with a 16 KB hostile query string; the baseline is the same without
   redaction, so "redaction alone" is the difference.
3. **Before and after**: the redaction of the commit before this one (loaded from git, in its
   own process) against this one, on the same ordinary and hostile values at 1, 2 and 4 KB.

    python -m benchmarks.redaction_cost [--quick] [--json PATH]
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c

BEFORE = "fbd38fb"  # main before issue 11: Python `re` redactors
FULL = {"rounds": 9, "repeat": 20}
QUICK = {"rounds": 3, "repeat": 5}
PROSE = "the agent summarized the quarterly report and the reviewer asked for two more sources; "

HOSTILE: dict[str, Callable[[int], str]] = {
    "prose (ordinary)": lambda n: (PROSE * (n // len(PROSE) + 1))[:n],
    "token + 'a.' * n (issue 11)": lambda n: "token " + "a." * (n // 2),
    "'http://' + 'a:' * n": lambda n: "http://" + "a:" * (n // 2),
    "'?password=a&' * n": lambda n: ("?" + "password=a&" * (n // 11 + 1))[:n],
    "'token ' * n (many kept matches)": lambda n: ("token " * (n // 6 + 1))[:n],
    "'password: must ' * n (prose pairs)": lambda n: ("password: must " * (n // 15 + 1))[:n],
    "'Cookie: ' + 'a=b;' * n": lambda n: "Cookie: " + "a=b;" * (n // 4),
    "'sk-' + 'a-' * n": lambda n: "sk-" + "a-" * (n // 2),
    "'the api key is ' * n (prose names)": lambda n: ("the api key is " * (n // 15 + 1))[:n],
    "'<token>x' * n (XML never closed)": lambda n: ("<token>x" * (n // 8 + 1))[:n],
    "'glpat-' + 'a.' * n (token tails)": lambda n: "glpat-" + "a" * 20 + ".a" * (n // 2),
}


def _time_us(call: Callable[[], Any], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - start) / repeat * 1e6


# --- 1. per value --------------------------------------------------------------------------------


def per_value(config: dict[str, int], sizes: tuple[int, ...]) -> dict[str, dict[int, float]]:
    from amas_telemetry.redact import Scrubber

    scrubber = Scrubber()
    texts = {(name, size): build(size * 1024) for name, build in HOSTILE.items() for size in sizes}
    variants = {
        f"{name}|{size}": (lambda t=text: _time_us(lambda: scrubber.text(t), config["repeat"]))
        for (name, size), text in texts.items()
    }
    samples = c.interleaved(variants, config["rounds"])
    result: dict[str, dict[int, float]] = {}
    for key, values in samples.items():
        name, size = key.split("|")
        result.setdefault(name, {})[int(size)] = c.median(values)
    return result


# --- 2. per span and per log line ------------------------------------------------------------


def per_span_and_line(config: dict[str, int]) -> dict[str, float]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind

    from amas_telemetry._internal.logs.handler import RedactingFilter
    from amas_telemetry._internal.redact.otel import scrubbed_span
    from amas_telemetry.redact import Scrubber

    scrubber = Scrubber()
    tracer = TracerProvider().get_tracer("bench")
    counter = iter(range(10**9))
    hostile_query = "token%20" + "a." * 8000

    def http_attributes(query: str) -> dict[str, Any]:
        i = next(counter)
        return {
            "http.request.method": "GET",
            "http.route": "/tasks/{task_id}",
            "url.path": f"/tasks/{i}",
            "url.query": query,
            "url.scheme": "http",
            "server.address": "amas.internal",
            "server.port": 8000,
            "network.protocol.version": "1.1",
            "user_agent.original": "python-httpx/0.28.1",
            "client.address": "10.0.0.7",
            "http.response.status_code": 200,
            "amas.request.id": f"req-{i:08d}",
        }

    queries = {
        "ordinary": lambda: f"limit=10&offset={next(counter)}",
        "with secrets": lambda: f"token=tok-4f9aQz8x{next(counter)}&next=/home",
        "hostile 16 KB": lambda: hostile_query + str(next(counter)),
    }

    def make_span(query: str) -> Any:
        span = tracer.start_span(
            "GET /tasks/{task_id}", kind=SpanKind.SERVER, attributes=http_attributes(query)
        )
        span.end()
        return span

    redact_filter = RedactingFilter(scrubber)
    messages = {
        "ordinary": lambda: (
            "task %s accepted: type %s, priority %s",
            (next(counter), "summarize", "normal"),
        ),
        "with secrets": lambda: (
            "connecting to %s",
            (f"postgresql://amas:pg-Pa55w0rd{next(counter)}@db/amas",),
        ),
        "hostile 16 KB": lambda: ("request %s", (hostile_query + str(next(counter)),)),
    }

    def make_record(message: str, args: tuple[Any, ...]) -> logging.LogRecord:
        return logging.LogRecord("amas", logging.INFO, __file__, 1, message, args, None)

    repeat = config["repeat"] * 20
    variants: dict[str, Callable[[], float]] = {
        "span: create + end (baseline)": lambda: _time_us(lambda: make_span(queries["ordinary"]()), repeat)
    }
    for kind, query in queries.items():
        variants[f"span: {kind}"] = lambda q=query: _time_us(
            lambda: scrubbed_span(make_span(q()), scrubber), repeat
        )
    variants["log: build record (baseline)"] = lambda: _time_us(
        lambda: make_record(*messages["ordinary"]()), repeat
    )
    for kind, message in messages.items():
        variants[f"log: {kind}"] = lambda m=message: _time_us(
            lambda: redact_filter.filter(make_record(*m())), repeat
        )
    samples = c.interleaved(variants, config["rounds"])
    return {name: c.median(values) for name, values in samples.items()}


# --- 3. before and after ---------------------------------------------------------------------


def _load_before() -> Any:
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:src/amas_telemetry/redact.py"],
        cwd=c.REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "redact_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("redact_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def before_after(variant: str, config: dict[str, int]) -> dict[str, dict[int, float]]:
    if variant == "before":
        scrub = _load_before().Scrubber().text
    else:
        from amas_telemetry.redact import Scrubber

        scrub = Scrubber().text
    cases = ("prose (ordinary)", "token + 'a.' * n (issue 11)", "'http://' + 'a:' * n")
    result: dict[str, dict[int, float]] = {}
    for name in cases:
        for size in (1, 2, 4):
            text = HOSTILE[name](size * 1024)
            result.setdefault(name, {})[size] = c.median(
                [_time_us(lambda t=text: scrub(t), max(1, config["repeat"] // 4)) for _ in range(3)]
            )
    return result


def _in_child(function: Callable[..., Any], *args: Any) -> Any:
    with c.MP.Pool(1) as pool:
        return pool.apply(function, args)


def main() -> None:
    args = c.parse_args(__doc__.splitlines()[0])
    config = QUICK if args.quick else FULL
    c.print_header("Redaction cost")
    sizes = (4, 16, 32)

    values = _in_child(per_value, config, sizes)
    rows = []
    for name, by_size in values.items():
        rows.append(
            [
                name,
                *(f"{by_size[s]:,.0f}" for s in sizes),
                f"{by_size[32] / 32:,.1f}",
                f"{by_size[32] / by_size[16]:.2f}",
            ]
        )
    print("\n#### Per value: Scrubber.text (µs)")
    print(c.table(["input", "4 KB", "16 KB", "32 KB", "µs per KB at 32 KB", "32 KB / 16 KB"], rows))

    spans = _in_child(per_span_and_line, config)
    span_base, log_base = spans["span: create + end (baseline)"], spans["log: build record (baseline)"]
    rows = []
    for name, total in spans.items():
        base = span_base if name.startswith("span") else log_base
        rows.append([name, f"{total:,.1f}", f"{total - base:,.1f}", f"{total / base:.2f}"])
    print("\n#### Per span (12 attributes, distinct values) and per log line (µs)")
    print(c.table(["case", "with the baseline", "redaction alone", "ratio to the baseline"], rows))

    compared: dict[str, Any] = {}
    for variant in ("before", "after"):  # each in its own process
        compared[variant] = _in_child(before_after, variant, config)
    rows = []
    for name in compared["after"]:
        for size in (1, 2, 4):
            old, new = compared["before"][name][size], compared["after"][name][size]
            rows.append([name, f"{size} KB", f"{old:,.0f}", f"{new:,.0f}", f"{old / new:,.1f}"])
    print(f"\n#### Before ({BEFORE}, Python re) and after (RE2): Scrubber.text (µs)")
    print(c.table(["input", "size", "before", "after", "before / after"], rows))
    c.write_json(
        args.json, {"per_value_us": values, "per_span_and_line_us": spans, "before_after_us": compared}
    )


if __name__ == "__main__":
    main()
