"""Progress output of ``fit``: a live bar per epoch on stderr, or one line per epoch."""
from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["Progress", "format_logs"]


def format_logs(logs: dict[str, float]) -> str:
    """``loss=0.1234 acc=0.9``: the logs of a step or an epoch, as progress lines show them."""
    return " ".join(f"{name}={value:.4g}" for name, value in logs.items() if name != "seconds")


class Progress:
    """A per-epoch progress bar on stderr: tqdm when installed, a small built-in bar otherwise.

    The bar is drawn only when stderr is a terminal; otherwise (and with ``verbose=2``) each
    epoch prints one summary line.
    """

    def __init__(self, epoch: int, epochs: int, total: int, verbose: int, done: int = 0) -> None:
        self.prefix = f"Epoch {epoch}/{epochs}"
        self.total, self.verbose, self.done, self.first = total, verbose, done, done
        self.start = self.last_draw = time.perf_counter()
        self.live = verbose == 1 and sys.stderr.isatty()
        self.tqdm = _tqdm_bar(self.prefix, total, done) if self.live else None

    def update(self, logs: dict[str, float]) -> None:
        self.done += 1
        if not self.live:
            return
        if self.tqdm is not None:
            self.tqdm.update(1)
            self.tqdm.set_postfix_str(format_logs(logs), refresh=False)
            return
        now = time.perf_counter()
        if now - self.last_draw >= 0.1 or self.done == self.total:
            self.last_draw = now
            filled = int(20 * self.done / max(self.total, 1))
            rate = (self.done - self.first) / max(now - self.start, 1e-9)
            sys.stderr.write(f"\r{self.prefix} [{'=' * filled:<20}] {self.done}/{self.total} "
                             f"{rate:.1f} steps/s {format_logs(logs)}\x1b[K")
            sys.stderr.flush()

    def close(self, logs: dict[str, float]) -> float:
        seconds = time.perf_counter() - self.start
        if self.tqdm is not None:
            self.tqdm.close()
        if self.verbose:
            rate = (self.done - self.first) / max(seconds, 1e-9)
            line = f"{self.prefix} {self.done}/{self.total} {seconds:.1f}s {rate:.1f} steps/s {format_logs(logs)}"
            sys.stderr.write(("\r" if self.live else "") + line + ("\x1b[K" if self.live else "") + "\n")
            sys.stderr.flush()
        return seconds


def _tqdm_bar(prefix: str, total: int, done: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=done, desc=prefix, leave=False, file=sys.stderr, unit="step")


