"""The wall's incident list: one line per open incident, most severe and most overdue first, with the runbook
target it is working towards; and the counts and timers the other wall widgets show."""

from __future__ import annotations

from textual.containers import Vertical

from console.incidents.manager import Incident
from console.incidents.model import Timer
from console.safe_text import markup_escape, strip_controls
from console.state import ConsoleState

from .figure import Figure, set_subtitle
from .wall_tile import text

SEVERITIES = ("P1", "P2", "P3", "P4")
SEV_STYLE = {"P1": "bold reverse $error", "P2": "bold $error", "P3": "bold $warning", "P4": "bold $secondary"}
STATE_WORD = {"triggered": ("●", "TRIGGERED", "bold $error"), "acknowledged": ("◐", "ACKED", "$warning"),
              "mitigating": ("◑", "MITIGATING", "$secondary")}
NAME_MAX = 80
VERB = {"acknowledge": "ack", "assess": "assess", "mitigate": "mitigate"}


def counts(state: ConsoleState) -> dict[str, int]:
    """Open incidents per severity, and how many nobody has acknowledged."""
    open_ = [i for i in state.incidents if i.is_open]
    out = {s: sum(1 for i in open_ if i.severity == s) for s in SEVERITIES}
    out["unacked"] = sum(1 for i in open_ if i.state == "triggered")
    return out


def current_timer(inc: Incident, now: float) -> Timer | None:
    """The runbook target the incident is working towards now (None: every target met)."""
    return next((t for t in inc.timers(now) if not t.done), None)


def most_urgent(state: ConsoleState) -> tuple[Incident, Timer] | None:
    """The open incident whose current target is nearest (or most overdue)."""
    best = None
    for inc in state.incidents:
        if not inc.is_open or inc.recovered_at is not None:
            continue
        t = current_timer(inc, state.ts)
        if t is not None and (best is None or t.target - t.elapsed < best[1].target - best[1].elapsed):
            best = (inc, t)
    return best


def urgency(inc: Incident, now: float) -> tuple:
    """Sort key: most severe first, then nobody on it, then the nearest (or most overdue) target."""
    t = current_timer(inc, now) if inc.recovered_at is None else None
    return inc.severity, inc.state != "triggered", t.target - t.elapsed if t else float("inf")


def timer_text(inc: Incident, now: float) -> tuple[str, str]:
    """(text, style): `ack 3/5m`, `▲ ack 7/5m` when overdue, `✓ mitigated`, `↺ recovered` (to the minute: the
    line changes once a minute, not every tick)."""
    if inc.recovered_at is not None:
        return "↺ recovered", "$success"
    t = current_timer(inc, now)
    if t is None:
        return "✓ mitigated", "$success"
    if t.over:  # minutes rounded up once overdue: 5m59s past a 5m target reads 6/5m, never "▲ 5/5m"
        return f"▲ {VERB.get(t.name, t.name)} {-(-int(t.elapsed) // 60)}/{int(t.target) // 60}m", "bold $error"
    return f"{VERB.get(t.name, t.name)} {int(t.elapsed) // 60}/{int(t.target) // 60}m", ""


def update_text(inc: Incident, now: float) -> tuple[str, str]:
    """P1/P2: the next stakeholder update (runbook 004, every 15 min): `upd in 12m`, `▲ upd 3m late`."""
    due = inc.next_update()
    if due is None:
        return "", ""
    if due >= now:
        return f"upd in {int(due - now + 59) // 60}m", ""
    return f"▲ upd {int(now - due) // 60}m late", "bold $error"


def incident_line(inc: Incident, now: float, width: int) -> str:
    """One open incident: severity, state word, id, title · service, timer, and for P1/P2 the update countdown
    where the width allows (the title cut to what is left)."""
    symbol, word, style = STATE_WORD.get(inc.state, ("?", inc.state.upper(), ""))
    timer, timer_style = timer_text(inc, now)
    update, update_style = update_text(inc, now) if width >= 100 else ("", "")
    if update:
        timer, timer_style = f"{timer:<12}  ", timer_style  # the two columns line up from row to row
    ident = strip_controls(inc.id)
    title = strip_controls(inc.title)
    service = strip_controls(inc.service)
    name = title if not service or service in title else f"{title} · {service}"  # "ServiceDown on datapipe" says it
    # the title column takes what is left, up to NAME_MAX: on a wide wall the timer stays beside the title
    room = min(NAME_MAX, max(8, width - (4 + 1 + 12 + 1 + len(ident) + 2 + 2 + len(timer) + len(update))))
    name = name if len(name) <= room else name[: room - 1] + "…"
    name = markup_escape(name) + " " * (room - len(name))  # padded after escaping: `\[` shows as one cell
    return (f"[{SEV_STYLE.get(inc.severity, 'bold')}] {text(inc.severity)} [/] [{style}]{symbol} {word:<10}[/] "
            f"[b]{markup_escape(ident)}[/]  {name}  " + styled(timer, timer_style) + styled(update, update_style))


def styled(text_: str, style: str) -> str:
    return f"[{style}]{text_}[/]" if style and text_ else text_


class WallIncidents(Vertical):
    """One line per open incident, most severe first; what does not fit is counted, never silently cut."""

    DEFAULT_CSS = """
    WallIncidents { border: heavy $panel-lighten-2; height: 1fr; min-height: 3; padding: 0 1; }
    WallIncidents.-firing { border: heavy $error; }
    WallIncidents > Figure { height: 1; }
    WallIncidents > .none { color: $success; text-style: bold; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.border_title = "Open incidents"
        self._rows: list[Figure] = []
        self._last: ConsoleState | None = None

    def on_resize(self) -> None:
        if self._last is not None:
            self.show(self._last)

    def show(self, state: ConsoleState) -> None:
        self._last = state
        open_ = sorted((i for i in state.incidents if i.is_open), key=lambda i: urgency(i, state.ts))
        width = max(40, self.content_size.width or 76)
        room = max(1, self.content_size.height or 10)
        if not open_:
            lines = ["[$success]● no open incident[/]"]
        elif len(open_) <= room:
            lines = [incident_line(i, state.ts, width) for i in open_]
        else:
            lines = [incident_line(i, state.ts, width) for i in open_[: room - 1]]
            lines.append(f"[bold]+ {len(open_) - room + 1} more open[/]")
        while len(self._rows) < len(lines):
            fig = Figure()
            self._rows.append(fig)
            self.mount(fig)
        for fig, line in zip(self._rows, lines + [""] * (len(self._rows) - len(lines))):
            fig.set(line)
        self.set_class(any(i.state == "triggered" for i in open_), "-firing")
        pending = sum(1 for r in state.active() if r.state == "pending")
        set_subtitle(self, f"{len(open_)} open" + (f" · {pending} rule{'s' if pending != 1 else ''} pending"
                                                   if pending else ""))
