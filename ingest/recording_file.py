"""Recorded callbacks: one JSON file per request, readable and diffable (format 1).

```json
{
  "format": 1,
  "source": "stripe",
  "method": "POST",
  "path": "/webhooks/stripe",
  "query": {},
  "headers": {"content-type": "application/json", "stripe-signature": "t=...,v1=..."},
  "body": "{\"id\": \"evt_1\", ...}",
  "received_at": "2026-11-23T07:00:00+00:00",
  "note": "optional: why this recording exists",
  "response": {"status": 200, "outcome": "routed"},
  "expect": {"status": 200, "outcome": "routed"}
}
```

`body` is the UTF-8 text of the request; a body that is not text is in `body_base64`
instead. `response` is what the receiver answered when it was recorded (a rejected request
says why in `response.outcome`, e.g. "bad_signature"). `expect`, optional, is what replay
checks: any difference makes `waitpoint replay` exit non-zero.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class RecordingError(ValueError):
    """A recording file cannot be used; the message names the file and the field."""


class Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: int = Field(ge=100, le=599)
    outcome: str | None = None


class Recording(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal[1]
    source: str
    method: str = "POST"
    path: str = Field(pattern=r"^/")
    query: dict[str, str] = {}
    headers: dict[str, str]
    body: str | None = None
    body_base64: str | None = None
    received_at: datetime
    note: str | None = None
    response: Outcome | None = None
    expect: Outcome | None = None

    @model_validator(mode="after")
    def _one_body(self) -> Recording:
        if (self.body is None) == (self.body_base64 is None):
            raise ValueError("give exactly one of body and body_base64")
        if self.body_base64 is not None:
            try:
                base64.b64decode(self.body_base64, validate=True)
            except ValueError:
                raise ValueError("body_base64 is not valid base64") from None
        return self

    @property
    def raw_body(self) -> bytes:
        if self.body_base64 is not None:
            return base64.b64decode(self.body_base64)
        return (self.body or "").encode("utf-8")

    @classmethod
    def of_request(cls, source: str, method: str, path: str, query: dict[str, str],
                   headers: dict[str, str], body: bytes, **extra: Any) -> Recording:
        text: dict[str, Any]
        try:
            text = {"body": body.decode("utf-8")}
        except UnicodeDecodeError:
            text = {"body_base64": base64.b64encode(body).decode("ascii")}
        return cls(format=1, source=source, method=method, path=path, query=query,
                   headers={k.lower(): v for k, v in headers.items()},
                   received_at=datetime.now(UTC), **text, **extra)

    def dumps(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2,
                          ensure_ascii=False) + "\n"


def load_recording(path: Path) -> Recording:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RecordingError(f"{path}: cannot read: {error.strerror}") from None
    except ValueError as error:
        raise RecordingError(f"{path}: not JSON: {error}") from None
    try:
        return Recording.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top level)'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in error.errors(include_url=False))
        raise RecordingError(f"{path}: {problems}") from None


def recording_files(paths: list[Path]) -> list[Path]:
    """Files named, and the *.json files of directories named (recursively), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("*.json")))
        elif path.exists():
            found.append(path)
        else:
            raise RecordingError(f"{path}: no such file or directory")
    return found
