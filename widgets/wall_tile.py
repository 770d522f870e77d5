"""One service on the wall: its state word and symbol, its one key figure, its open incident."""

from __future__ import annotations

from textual.containers import Vertical

from console.safe_text import markup_escape, strip_controls
from console.state import ConsoleState, ServiceState

from . import fmt
from .figure import Figure

STALE_AFTER = 30.0  # seconds without a good reading before a tile says STALE (as the source bar's ◐)
# state word → (symbol, tile class, text style): a symbol with every colour, never colour alone
WORDS = {
    "ERROR": ("✖", "-bad", "bold $error"),
    "FIRING": ("▲", "-bad", "bold $error"),
    "INCIDENT": ("◑", "-warn", "bold $warning"),
    "PENDING": ("◐", "-warn", "$warning"),
    "WARNING": ("◐", "-warn", "$warning"),
    "STALE": ("○", "-warn", "$warning"),
    "WAITING": ("◌", "-idle", "dim"),
    "OK": ("●", "-ok", "bold $success"),
}


def text(value) -> str:
    """Service-given text, inert in markup: controls stripped, every `[` escaped."""
    return markup_escape(strip_controls(str(value)))


def service_word(svc: ServiceState, state: ConsoleState) -> str:
    """What the room needs to know first about a service, as one word (the worst that holds)."""
    if svc.error:
        return "ERROR"
    rules = [r for r in state.rules if r.service == svc.name]
    if any(r.state == "firing" for r in rules):
        return "FIRING"
    if any(i.is_open and i.service == svc.name for i in state.incidents):
        return "INCIDENT"
    if any(r.state == "pending" for r in rules):
        return "PENDING"
    if svc.warning:
        return "WARNING"
    age = svc.age(state.ts)
    if age is None:
        return "WAITING"
    return "STALE" if age > STALE_AFTER else "OK"


def key_figure(svc: ServiceState) -> str:
    """The service's one number worth reading from across the room (markup; `?` when unknown)."""
    f = svc.figures or {}
    if svc.kind == "conversion":
        return f"events {fmt.rate(f.get('rate_1m'))}"
    if svc.kind == "converge":
        score, band = f.get("debt_score"), f.get("debt_band")
        if not fmt.known(score):
            return f"debt {fmt.UNKNOWN}"
        return fmt.over(score, f.get("debt_red"), f"debt {score:.0f}" + (f" {band}" if band else ""))
    if svc.kind == "path_tracker":
        pct = f.get("percent")
        return f"rollout {pct:g}%" if fmt.known(pct) else f"rollout {fmt.UNKNOWN}"
    if svc.kind == "data_pipeline":
        ratio = f.get("error_ratio_5m")
        return "5xx " + fmt.over(ratio, f.get("error_ratio_threshold"), fmt.pct(ratio, 2))
    if svc.kind == "pipelines":
        switches = f.get("switches")
        if switches is None:
            return f"switches {fmt.UNKNOWN}"
        off = sum(1 for s in switches if s.get("enabled") is False)
        return f"[$error]▲ {off} of {len(switches)} off[/]" if off else f"{len(switches)} switches on"
    if svc.kind == "scrape":
        up = f.get("up")
        return fmt.UNKNOWN if not fmt.known(up) else ("up" if up >= 1 else "[$error]▲ down[/]")
    return ""


def open_incident(svc: ServiceState, state: ConsoleState) -> str:
    """The service's most severe open incident (its id, severity and state), and how many more."""
    open_ = [i for i in state.incidents if i.is_open and i.service == svc.name]
    if not open_:
        return ""
    top = min(open_, key=lambda i: i.severity)
    more = f" +{len(open_) - 1}" if len(open_) > 1 else ""
    return f"{text(top.id)} {text(top.severity)} {text(top.state)}{more}"


class ServiceTile(Vertical):
    """One service: name in the border, the state word, the key figure, the open incident."""

    DEFAULT_CSS = """
    ServiceTile { border: heavy $panel-lighten-2; height: auto; padding: 0 1; }
    ServiceTile.-bad { border: heavy $error; }
    ServiceTile.-warn { border: heavy $warning; }
    ServiceTile.-ok { border: heavy $success-darken-2; }
    ServiceTile.-stale .figure { color: $text-muted; }
    ServiceTile > Figure { height: 1; }
    """

    def __init__(self, name: str, **kw) -> None:
        super().__init__(**kw)
        self.service = name
        self.border_title = text(name)
        self.word = Figure(classes="word")
        self.figure = Figure(classes="figure")
        self.incident = Figure(classes="incident")

    def compose(self):
        yield self.word
        yield self.figure
        yield self.incident

    def show(self, svc: ServiceState, state: ConsoleState) -> None:
        word = service_word(svc, state)
        symbol, cls, style = WORDS[word]
        for c in ("-bad", "-warn", "-ok", "-idle"):
            self.set_class(c == cls, c)
        # a failing or stale service keeps its last figure, dimmed, as the panels do
        self.set_class(word in ("ERROR", "STALE"), "-stale")
        self.word.set(f"[{style}]{symbol} {word}[/]")
        self.figure.set(key_figure(svc))
        self.incident.set(open_incident(svc, state))
