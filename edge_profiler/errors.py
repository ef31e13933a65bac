"""The one error type of edge_profiler, with a machine-readable ``kind``.

Like KerasTuner's ``FailedTrialError`` / ``FatalError`` split, callers branch on ``kind``: a
``rejected`` / ``crashed`` / ``timeout`` / ``out_of_memory`` model is a bad candidate (go on), while
``unreachable`` / ``unauthorized`` / ``busy`` are problems of the agents, not of the model.
"""

from __future__ import annotations

from typing import Any

#: Error kinds about the model itself.
MODEL_KINDS = frozenset({"rejected", "crashed", "timeout", "out_of_memory"})
#: Error kinds about the agent or the request.
AGENT_KINDS = frozenset(
    {"unreachable", "unauthorized", "busy", "too_large", "bad_request", "not_found", "request_timeout", "internal"}
)
KINDS = MODEL_KINDS | AGENT_KINDS


class ProfilerError(Exception):
    """A model could not be measured; ``kind`` says why (one of :data:`KINDS`)."""

    def __init__(self, kind: str, message: str, *, detail: dict[str, Any] | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown ProfilerError kind {kind!r}; expected one of {sorted(KINDS)}")
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.detail = dict(detail or {})

    @property
    def is_model_error(self) -> bool:
        """True when the model is at fault (retrying elsewhere will not help)."""
        return self.kind in MODEL_KINDS

    def to_json(self) -> dict[str, Any]:
        """The JSON body the agent sends for this error."""
        return {"error": {"kind": self.kind, "message": self.message, **self.detail}}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ProfilerError:
        """Rebuild an error from an agent's JSON body (inverse of :meth:`to_json`)."""
        error = dict(body.get("error") or {})
        kind = str(error.pop("kind", "internal"))
        message = str(error.pop("message", "no message"))
        if kind not in KINDS:
            message = f"(agent said kind {kind!r}) {message}"
            kind = "internal"
        return cls(kind, message, detail=error)
