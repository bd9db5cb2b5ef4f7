"""Progress of a backup: a bar with bytes and rate on a terminal (redrawn in place),
plain log lines every INTERVAL seconds otherwise (cron, systemd timers, the .log)."""

import time

from hacontain.backup.catalog import human

INTERVAL = 10.0           # s between plain progress lines
REDRAW = 0.2              # s between redraws of the bar
WIDTH = 30


class Progress:
    """advance(n) per n bytes of the tree read; `total`: bytes expected, or None (the
    bar then shows activity, not a fraction). `line(text)` writes a plain line (the
    log); `terminal` is a stream on a terminal for the bar, or None."""

    def __init__(self, line, terminal=None, total=None):
        self.line, self.terminal, self.total = line, terminal, total
        self.done, self.start = 0, time.monotonic()
        self.shown = self.start
        self.drawn = False

    def advance(self, size):
        self.done += size
        now = time.monotonic()
        if self.terminal is not None and now - self.shown >= REDRAW:
            self.shown = now
            self.terminal.write("\r" + self.bar(now) + "\x1b[K")
            self.terminal.flush()
            self.drawn = True
        elif self.terminal is None and now - self.shown >= INTERVAL:
            self.shown = now
            self.line(f"progress: {self.status(now)}")

    def rate(self, now=None):
        elapsed = (now or time.monotonic()) - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def status(self, now=None):
        share = f" ({min(self.done / self.total, 1):.0%})" if self.total else ""
        return f"{human(self.done)} read{share}, {human(self.rate(now))}/s"

    def bar(self, now):
        if self.total:
            filled = int(WIDTH * min(self.done / self.total, 1))
            gauge = "#" * filled + "-" * (WIDTH - filled)
        else:
            position = int((now - self.start) / REDRAW) % (2 * WIDTH - 8)
            position = min(position, 2 * WIDTH - 8 - position)
            gauge = "-" * position + "<==>" + "-" * (WIDTH - 4 - position)
        return f"[{gauge}] {self.status(now)}"

    def finish(self):
        """Clear the bar (the caller logs the summary)."""
        if self.drawn:
            self.terminal.write("\r\x1b[K")
            self.terminal.flush()
