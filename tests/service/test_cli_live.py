"""``ccelim optimize``'s live line keeps its clock running between improvements."""

from __future__ import annotations

import io

from rich.console import Console
from rich.live import Live

from service.cli_search import LiveLine


def _render(renderable) -> str:
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(renderable)
    return out.getvalue().strip()


def test_the_clock_runs_on_without_an_improvement():
    now = [100.0]
    line = LiveLine("RoeFlux_1d", lambda: now[0])
    assert _render(line) == "RoeFlux_1d   0.0s  pricing baselines…"
    line.status = "best 40 (exact, at 0.5s)"
    now[0] = 100.5
    assert _render(line) == "RoeFlux_1d   0.5s  best 40 (exact, at 0.5s)"
    now[0] = 107.25  # no improvement since: the clock still moves
    assert _render(line) == "RoeFlux_1d   7.2s  best 40 (exact, at 0.5s)"


def test_live_refreshes_show_the_current_time():
    now = [0.0]
    line = LiveLine("f", lambda: now[0])
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system=None)
    with Live(line, console=console, auto_refresh=False) as live:
        now[0] = 3.0
        live.refresh()
        now[0] = 9.0
        live.refresh()
    text = out.getvalue()
    assert "f   3.0s" in text and "f   9.0s" in text
