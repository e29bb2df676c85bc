"""Database URLs without their secrets, for every message and log line that shows one."""

from __future__ import annotations

import re

# user:password@ in a URL's authority
_USERINFO = re.compile(r"(://[^:/@?#\s]*:)[^@/?#\s]*@")
# password=… in a URL query or a libpq key=value string (also sslpassword, passwd)
_PARAM = re.compile(r"(?i)(\b(?:ssl)?pass(?:word|wd)?\s*=\s*)('[^']*'|[^&\s]*)")


def redact(url: str) -> str:
    """``url`` (or a libpq ``key=value`` string, or a message quoting one) with every password
    replaced by ``***``: in the userinfo and in ``password=`` parameters."""
    return _PARAM.sub(r"\1***", _USERINFO.sub(r"\1***@", url))
