"""Keep secrets out of logs and span attributes: API keys, tokens, passwords in URLs."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
# key=value pairs in query strings and messages (apikey=..., "token": ...), and the
# password of a URL's user-info (postgresql://user:secret@host).
_PAIRS = re.compile(
    r"(?i)\b(api[_-]?key|apikey|token|secret|password|passwd)(\"?\s*[=:]\s*\"?)([^&\s\"',;]+)"
)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]*):([^@/\s]+)@")


class Redactor:
    """Masks the configured secret values wherever they appear, and secret-looking pairs."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        if "://" in text:
            text = _USERINFO.sub(rf"\1:{MASK}@", text)
        return _PAIRS.sub(rf"\1\2{MASK}", text)
