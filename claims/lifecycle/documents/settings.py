"""``[documents]`` in claims.toml: how much a document's text may cost to read.

Every page's text is read at intake (so validation searches all of it), within a time and a
memory budget; a file that would exceed one is read as far as the budget allows and the
inspection says where it stopped and why (validation reports it, never a silent cut).
"""

from __future__ import annotations

from pydantic import Field

from claims.core.config import Section

MB = 1024 * 1024


class TextBudget(Section):
    """The budget of reading one document's text."""

    text_seconds: float = Field(20.0, gt=0, le=3600,  # ok: not money
                                description="wall-clock seconds for one document's text")
    text_megabytes: int = Field(32, ge=1, le=1024,
                                description="MB of extracted text kept for one document")
    stream_megabytes: int = Field(16, ge=1, le=512,
                                  description="MB one compressed page stream may inflate to "
                                              "(a flate bomb stops here)")

    @property
    def text_bytes(self) -> int:
        """``text_megabytes`` in bytes."""
        return self.text_megabytes * MB

    @property
    def stream_bytes(self) -> int:
        """``stream_megabytes`` in bytes."""
        return self.stream_megabytes * MB
