"""``bench/longpoll_inproc.py`` with only its requests counted: cProfile call counts or callgrind
instructions of the event loop thread per long-poll request (deterministic, unlike CPU time).

The window of each request is the bench's own (its two ``time.thread_time`` calls: from the
request's bytes to its response written; with ``--waiting`` the commit that wakes it included);
the requests of the first cursors and of the warm-up round are not counted. Periodic refreshes
keyed on the clock (the chain cache's 5 s, the room resolution's 30 s, the token counter's
0.25 s) are set to never in both trees: under valgrind's ~50x slowdown they came every request
or two instead of every ~20 / ~120 / ~1,000 of a room, and moved with the load.

- ``--profile FILE``: cProfile of the counted windows (pstats file).
- ``--callgrind``: run under ``valgrind --tool=callgrind --collect-atstart=no`` (and
  ``PYTHONMALLOC=malloc``); collection is toggled around each window by a client request
  (``CALLGRIND_TOGGLE_COLLECT``, a 3-line C library built with ``cc`` into a temporary
  directory). Callgrind's collection state is per thread: the store's writer and reader
  threads are not counted. Instructions per request = the total ÷ (``--rounds`` ×
  ``--requests``).

Usage: ``valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=OUT env
PYTHONMALLOC=malloc python bench/longpoll_counts.py --callgrind [--rooms 50 --requests 400]
[--waiting]`` (A tree: ``PYTHONPATH=/path/to/other/src``), then ``callgrind_annotate OUT | head``;
or ``python bench/longpoll_counts.py --profile FILE ...``. Other options as longpoll_inproc's.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

_TOGGLE_C = "#include <valgrind/callgrind.h>\nvoid cg_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }\n"


def _toggle() -> Any:
    folder = Path(tempfile.mkdtemp(prefix="dylive-cg-"))
    (folder / "t.c").write_text(_TOGGLE_C)
    lib = folder / "t.so"
    subprocess.run(
        ["cc", "-O2", "-shared", "-fPIC", "-o", str(lib), str(folder / "t.c")], check=True
    )
    return ctypes.CDLL(str(lib)).cg_toggle


def main() -> None:
    argv = sys.argv[1:]
    profile_to = None
    if "--profile" in argv:
        at = argv.index("--profile")
        profile_to = argv[at + 1]
        del argv[at : at + 2]
    callgrind = "--callgrind" in argv
    if callgrind:
        argv.remove("--callgrind")
    sys.argv = ["longpoll_inproc.py", *argv]

    import longpoll_inproc as lp

    import dylive.collect.broadcasts as broadcasts
    import dylive.collect.rooms as rooms
    import dylive.store.sqlite.tokens as tokens

    tokens.RECHECK = 1e9  # type: ignore[misc]
    broadcasts.ChainCache.__init__.__defaults__ = (1e9, 4096)
    defaults = dict(rooms.RoomManager.__init__.__kwdefaults__ or {})
    defaults["resolve_ttl"] = 1e9
    rooms.RoomManager.__init__.__kwdefaults__ = defaults

    args = lp.argparse.Namespace(rooms=200, requests=2000)
    for flag in ("--rooms", "--requests"):
        if flag in argv:
            setattr(args, flag[2:], int(argv[argv.index(flag) + 1]))
    skip = 2 * (args.rooms + args.requests)  # thread_time calls before the measured round
    import cProfile

    profiler = cProfile.Profile() if profile_to else None
    toggle = _toggle() if callgrind else None
    calls = 0

    def thread_time() -> float:
        nonlocal calls
        calls += 1
        if calls > skip:
            if profiler is not None:
                if calls % 2:
                    profiler.enable()
                else:
                    profiler.disable()
            if toggle is not None:
                toggle()
        return time.thread_time()

    clock = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if k[0] != "_"})
    clock.thread_time = thread_time
    lp.time = clock  # type: ignore[assignment]
    lp.main()
    if profiler is not None and profile_to:
        profiler.dump_stats(profile_to)


if __name__ == "__main__":
    main()
