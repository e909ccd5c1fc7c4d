"""Progress of long work (look-ups, provisioning) as lines on a stream, usually stderr.

On a terminal one line is rewritten in place (carriage return); otherwise (a log file, CI)
plain lines are printed, at most one every ``every`` objects or ``seconds`` seconds, whichever comes
first, plus one when a phase ends. Phases with fewer than ``minimum`` objects print nothing, so
small cycles stay quiet. Each line shows done/total, the percentage, the rate and an ETA::

    provision: 4,000/10,000 (40%) 812/s ETA 0:07
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TextIO


class ProgressSink(Protocol):
    """What the runner reports progress to."""

    def start(self, phase: str, total: int) -> None:
        """A phase of ``total`` objects begins."""
        ...

    def advance(self, count: int = 1) -> None:
        """``count`` more objects of the current phase are done."""
        ...

    def finish(self) -> None:
        """The current phase ended."""
        ...


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """A :class:`ProgressSink` writing to a text stream."""

    def __init__(
        self,
        stream: TextIO,
        *,
        every: int = 1000,
        seconds: float = 2.0,
        minimum: int = 100,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.every = every
        self.seconds = seconds
        self.minimum = minimum
        self.tty = stream.isatty() if tty is None else tty
        self.clock = clock
        self.phase = ""
        self.total = 0
        self.done = 0
        self.started = 0.0
        self.shown_done = 0
        self.shown_at = 0.0
        self.lines: list[str] = []
        """Every line written (for tests and summaries)."""

    @property
    def active(self) -> bool:
        """Whether the current phase is long enough to report."""
        return self.total >= self.minimum

    def start(self, phase: str, total: int) -> None:
        """Begin a phase."""
        self.phase, self.total, self.done = phase, total, 0
        self.started = self.shown_at = self.clock()
        self.shown_done = 0

    def line(self) -> str:
        """The current progress line."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        percent = 100 * self.done // self.total if self.total else 100
        text = f"{self.phase}: {self.done:,}/{self.total:,} ({percent}%) {rate:,.0f}/s"
        if self.done < self.total:
            eta = (self.total - self.done) / rate if rate > 0 else None
            text += f" ETA {_duration(eta)}" if eta is not None else " ETA ?"
        else:
            text += f" in {_duration(elapsed)}"
        return text

    def advance(self, count: int = 1) -> None:
        """Count finished objects; print when ``every`` objects or ``seconds`` have passed."""
        self.done += count
        if not self.active:
            return
        now = self.clock()
        if self.done - self.shown_done >= self.every or now - self.shown_at >= self.seconds:
            self._show(final=False)

    def finish(self) -> None:
        """Print the phase's last line."""
        if self.active:
            self._show(final=True)

    def _show(self, *, final: bool) -> None:
        text = self.line()
        self.lines.append(text)
        self.shown_done, self.shown_at = self.done, self.clock()
        if self.tty:
            self.stream.write(f"\r\x1b[K{text}" + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
