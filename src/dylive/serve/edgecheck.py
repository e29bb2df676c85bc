"""The uvicorn internals the edge's fast paths copy or build on, checked once at start.

The fast paths of :mod:`dylive.serve.edge` repeat uvicorn's code instead of calling it: the
httptools protocol's ``on_response_complete`` (with the keep-alive timeout a ``Deadline``),
:class:`~dylive.serve.edgeio.Responder` (the bytes ``RequestResponseCycle.send`` writes, and the
cycle's state it sets), its ``on_headers_complete`` and ``_start_asgi_task``
(:mod:`.edgestart`: the target split, the first step run at once), and its ``data_received``,
``on_url`` and ``on_message_complete`` (merged with the edge's own steps there). They are right for the uvicorn code they were written against, which
pyproject allows but cannot pin. :func:`drift` fingerprints that code in the installed uvicorn
(its source, comments and layout left out) and names what differs from :data:`KNOWN`; the edge
uses the fast paths only when nothing does, else uvicorn's own methods, with one log line
(``tests/serve/test_edge_uvicorn.py`` fails on a drift, so a new uvicorn gets looked at).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import io
import logging
import tokenize
from typing import Any

log = logging.getLogger(__name__)

#: uvicorn's functions the fast paths repeat or depend on (``module:Class.function``)
FUNCTIONS = (
    "httptools_impl:HttpToolsProtocol.on_response_complete",  # edge.py copies it
    "httptools_impl:HttpToolsProtocol._unset_keepalive_if_required",  # ... and the timer it drops
    "httptools_impl:HttpToolsProtocol.on_headers_complete",  # edgestart copies it
    "httptools_impl:RequestResponseCycle.__init__",  # the cycle's state Responder sets
    "httptools_impl:RequestResponseCycle.send",  # the bytes Responder writes
    "httptools_impl:HttpToolsProtocol._start_asgi_task",  # edgestart.start_eager's task
    "httptools_impl:HttpToolsProtocol.data_received",  # edge.py copies these three
    "httptools_impl:HttpToolsProtocol.on_url",
    "httptools_impl:HttpToolsProtocol.on_message_complete",
)

#: the fingerprints (:func:`fingerprint`) of :data:`FUNCTIONS`, in order, in the uvicorn versions
#: the fast paths were checked against (the releases checked from 0.30.0 to 0.52.4 differ:
#: ``send`` neither parsed the ``connection`` header's tokens nor added ``connection: close``
#: itself, and up to 0.40 ``on_response_complete`` had no ``_start_asgi_task``)
KNOWN: frozenset[tuple[str, ...]] = frozenset(
    {
        # uvicorn 0.53.0, 0.54.0 (their _start_asgi_task: reset_contextvars by Python version)
        ("60a8f260fd610869", "7fd68509ad97a05a", "cdd1ed6fad1e8689", "a470e7b6937d196f",
         "ebc880dd1843cb2f", "7989a34d3b95e494", "f83481cc3c26cebf", "b2b2c562c062e1ab",
         "13556ee85b3b8cc4"),
        # uvicorn 0.55.0
        ("60a8f260fd610869", "7fd68509ad97a05a", "cdd1ed6fad1e8689", "a470e7b6937d196f",
         "ebc880dd1843cb2f", "20c65def1349a652", "f83481cc3c26cebf", "b2b2c562c062e1ab",
         "13556ee85b3b8cc4"),
    }
)  # fmt: skip


def fingerprint(function: Any) -> str:
    """sha256 of a function's source tokens (comments, blank lines and layout left out)."""
    source = inspect.getsource(function)
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    words = [
        tok.string
        for tok in tokenize.generate_tokens(io.StringIO(_dedent(source)).readline)
        if tok.type not in skip
    ]
    return hashlib.sha256(" ".join(words).encode()).hexdigest()[:16]


def _dedent(source: str) -> str:
    lines = source.splitlines(keepends=True)
    margin = len(lines[0]) - len(lines[0].lstrip())
    return "".join(line[margin:] if line[:margin].isspace() else line.lstrip() for line in lines)


def installed() -> dict[str, str]:
    """The fingerprints of :data:`FUNCTIONS` in the installed uvicorn ("" where unreadable)."""
    import importlib

    found: dict[str, str] = {}
    for name in FUNCTIONS:
        module, _, path = name.partition(":")
        try:
            obj: Any = importlib.import_module(f"uvicorn.protocols.http.{module}")
            for part in path.split("."):
                obj = getattr(obj, part)
            found[name] = fingerprint(obj)
        except (ImportError, AttributeError, OSError, TypeError, tokenize.TokenError):
            found[name] = ""
    return found


def drift() -> list[str]:
    """[] when the installed code is a known version's, else the names of :data:`FUNCTIONS` that
    differ from the closest known version."""
    marks = tuple(installed().values())
    if marks in KNOWN:
        return []
    closest = max(KNOWN, key=lambda known: sum(a == b for a, b in zip(known, marks, strict=True)))
    return [name for name, a, b in zip(FUNCTIONS, closest, marks, strict=True) if a != b]


@functools.cache
def fast_paths() -> bool:
    """True when the edge may use its copies of uvicorn's code; else one log line (once)."""
    changed = drift()
    if changed:
        import uvicorn

        log.warning(
            "uvicorn %s: %s not as the edge's fast paths expect; uvicorn's own code is used"
            " (a little more CPU per request)",
            uvicorn.__version__,
            ", ".join(name.partition(":")[2] for name in changed),
        )
    return not changed
