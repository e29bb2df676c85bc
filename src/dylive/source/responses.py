"""Upstream responses freed by reference counting, not left to the garbage collector.

httpx binds a response's body stream to the response (``response.stream`` holds the response,
to set ``elapsed`` when closed): every response is a reference cycle of ~36 objects (its
request, URL, headers, httpcore's pool request and events), which only a collection of the
garbage collector frees. Once the body is read and the response closed (``client.get`` does
both), the stream is not used again: :func:`unbind` replaces it with an empty one, which breaks
the cycle. On the polling transport that is one cycle less per ``im/fetch`` request.
"""

from __future__ import annotations

import httpx

_READ = httpx.ByteStream(b"")  # what a read and closed response's stream is replaced with


def unbind(resp: httpx.Response) -> httpx.Response:
    """``resp``, its body stream replaced by an empty one if it is closed (read): its
    reference cycle broken. A response still open (streamed) is left as it is."""
    if resp.is_closed:
        resp.stream = _READ
    return resp
