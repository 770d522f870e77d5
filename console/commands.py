"""The one registry of commands: keys, footer, `?` help, palette and `[keys]` remapping all come from here."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from console.config.schema import ConfigError


@dataclass(frozen=True)
class Command:
    """One thing a user can do: its id (what `[keys]` remaps), key, title, where it applies and what it runs."""

    id: str
    key: str
    title: str
    scope: str  # where the key works: app, dashboard, incident_table, panel:<kind>, replay, confirm, ...
    action: str  # the UI action it runs, e.g. "incident('acknowledge')"
    show: bool = True  # in the footer
    mutates: str = ""  # "send": reaches a service (refused in replay and read-only); "change": changes an incident (refused in replay)
    dangerous: bool = False
    priority: bool = False  # works even while a table has the focus (replay's timeline keys)
    service: str | None = None  # a config action bound to one service's panel
    note: str = ""  # extra words for `?`

    @property
    def display(self) -> str:
        return key_display(self.key)


def _c(id_: str, key: str, title: str, scope: str, action: str, **kw) -> Command:
    return Command(id_, key, title, scope, action, **kw)


VERBS = ("acknowledge", "mitigating", "resolve")
STATIC: tuple[Command, ...] = (
    _c("app.quit", "q", "Quit", "app", "quit", note="asks first while an incident is open and unacknowledged"),
    _c("app.help", "question_mark", "Keys", "app", "help"),
    _c("app.palette", "ctrl+p", "Palette", "app", "command_palette", show=False),
    _c("app.screenshot", "f12", "Screenshot", "app", "screenshot", show=False,
       note="an SVG of the screen in <data dir>/screenshots/"),
    _c("app.undo", "u", "Undo", "app", "undo", mutates="send", note="the inverse of the last action, confirmed first"),
    _c("dashboard.detail", "enter", "Detail", "dashboard", "open_detail",
       note="the focused panel's service (on a table: the selected row's), with plots over the last hour"),
    _c("dashboard.filter", "slash", "Filter", "dashboard", "filter", show=False,
       note="the focused table (incidents, switches, activity): only rows holding the text"),
    _c("filter.cancel", "escape", "Cancel", "filter", "cancel"),
    _c("dashboard.wall", "w", "Wall", "dashboard", "app.wall", show=False,
       note="the war-room layout: incident counts, timers, one tile per service (--layout wall)"),
    _c("wall.dashboard", "w", "Dashboard", "wall", "app.leave_wall"),
    _c("wall.dashboard2", "escape", "Dashboard", "wall", "app.leave_wall", show=False),
    _c("dashboard.next", "tab", "Next panel", "dashboard", "app.focus_next", show=False),
    _c("dashboard.prev", "shift+tab", "Previous panel", "dashboard", "app.focus_previous", show=False),
    _c("dashboard.right", "right", "Panel to the right", "dashboard", "move('right')", show=False),
    _c("dashboard.left", "left", "Panel to the left", "dashboard", "move('left')", show=False),
    _c("dashboard.down", "down", "Panel below", "dashboard", "move('down')", show=False),
    _c("dashboard.up", "up", "Panel above", "dashboard", "move('up')", show=False),
    _c("detail.back", "escape", "Back", "detail", "app.pop_screen"),
    _c("detail.back2", "backspace", "Back", "detail", "app.pop_screen", show=False),
    _c("help.close", "escape", "Close", "help", "app.pop_screen"),
    _c("help.close2", "question_mark", "Close", "help", "app.pop_screen", show=False),
    # the incident table and the incident detail share ids: remapping "incident.ack" remaps both
    _c("incident.open", "enter", "Incident", "incident_table", "select_cursor"),
    _c("incident.ack", "a", "Ack", "incident_table", "incident('acknowledge')", mutates="change",
       note="an Alertmanager incident asks for a silence duration and comment"),
    _c("incident.mitigating", "m", "Mitigating", "incident_table", "incident('mitigating')", mutates="change"),
    _c("incident.resolve", "r", "Resolve", "incident_table", "incident('resolve')", mutates="change",
       note="asks for the resolution, root cause and postmortem date"),
    _c("incident.back", "escape", "Back", "incident_detail", "app.pop_screen"),
    _c("incident.ack", "a", "Ack", "incident_detail", "incident('acknowledge')", mutates="change"),
    _c("incident.unack", "U", "Un-ack", "incident_detail", "incident('unacknowledge')", mutates="change",
       note="expires the silence"),
    _c("incident.mitigating", "m", "Mitigating", "incident_detail", "incident('mitigating')", mutates="change"),
    _c("incident.resolve", "r", "Resolve", "incident_detail", "incident('resolve')", mutates="change"),
    _c("incident.document", "d", "Documented", "incident_detail", "incident('document')", mutates="change"),
    _c("incident.expire_stale", "X", "Expire stale ack", "incident_detail", "expire_stale_ack", show=False,
       mutates="send", note="the first listed ack silence that matches no alert any more"),
    _c("incident.draft", "t", "Next draft", "incident_detail", "next_draft"),
    _c("incident.copy", "c", "Copy draft", "incident_detail", "copy_draft",
       note="OSC 52: works over SSH, and in tmux with `set-clipboard on`"),
    _c("incident.export", "e", "Draft to file", "incident_detail", "export_draft", note="<data dir>/drafts/"),
    _c("incident.mitigation1", "1", "Mitigation 1", "incident_detail", "mitigation(1)", show=False, mutates="send",
       note="2-9: the next ones listed"),
    *(_c(f"incident.mitigation{n}", str(n), f"Mitigation {n}", "incident_detail", f"mitigation({n})", show=False,
         mutates="send") for n in range(2, 10)),
    _c("incident_dialog.cancel", "escape", "Cancel", "incident_dialog", "cancel"),
    # replay: priority, so ←/→ step the timeline even while a table has the focus; its own keys come first
    _c("replay.play", "space", "Play/pause", "replay", "toggle_play", priority=True),
    _c("replay.back", "left", "−10s", "replay", "step(-10)", priority=True),
    _c("replay.forward", "right", "+10s", "replay", "step(10)", priority=True),
    _c("replay.back_minute", "shift+left", "−1 min", "replay", "step(-60)", show=False, priority=True),
    _c("replay.forward_minute", "shift+right", "+1 min", "replay", "step(60)", show=False, priority=True),
    _c("replay.prev", "left_square_bracket", "Prev event", "replay", "jump(-1)", priority=True),
    _c("replay.next", "right_square_bracket", "Next event", "replay", "jump(1)", priority=True),
    _c("replay.faster", "plus", "Faster", "replay", "speed(1)", priority=True,
       note="1×, 2×, 5×, 10×, 60×, 600×, max"),
    _c("replay.slower", "minus", "Slower", "replay", "speed(-1)", priority=True),
    _c("replay.goto", "g", "Go to", "replay", "goto", priority=True,
       note="HH:MM[:SS] UTC, -15m / +5m from here, start, end, or an RFC3339 time"),
    _c("replay.start", "home", "Start", "replay", "edge('start')", show=False, priority=True),
    _c("replay.end", "end", "End", "replay", "edge('end')", show=False, priority=True),
    _c("replay.goto_cancel", "escape", "Cancel", "replay_goto", "cancel"),
    # rewind (the live dashboard): ←/→ stay the panel moves there, so the rewind steps are , . < >
    _c("rewind.back", "comma", "Rewind 10s", "rewind", "rewind(-10)", show=False, priority=True,
       note="the display moves back over this session's recording (attached: the collector's, for this viewer "
            "only); the engine keeps running"),
    _c("rewind.forward", "full_stop", "Forward 10s", "rewind", "rewind(10)", show=False, priority=True,
       note="past now: live"),
    _c("rewind.back_minute", "less_than_sign", "−1 min", "rewind", "rewind(-60)", show=False, priority=True),
    _c("rewind.forward_minute", "greater_than_sign", "+1 min", "rewind", "rewind(60)", show=False, priority=True),
    _c("rewind.prev", "left_square_bracket", "Prev event", "rewind", "rewind_jump(-1)", show=False, priority=True),
    _c("rewind.next", "right_square_bracket", "Next event", "rewind", "rewind_jump(1)", show=False, priority=True),
    _c("rewind.goto", "g", "Rewind to", "rewind", "rewind_goto", show=False, priority=True,
       note="HH:MM[:SS] UTC, -15m from now, or an RFC3339 time"),
    _c("rewind.live", "end", "Live", "rewind", "rewind_live", show=False, priority=True),
    _c("rewind.live2", "escape", "Live", "rewind", "rewind_live", show=False, priority=True,
       note="while rewound"),
    _c("switches.toggle", "x", "Toggle row", "panel:pipelines", "app.toggle_switch", mutates="send"),
    _c("confirm.send", "y", "Send", "confirm", "send"),
    _c("confirm.cancel", "n", "Cancel", "confirm", "cancel"),
    _c("confirm.cancel2", "escape", "Cancel", "confirm", "cancel", show=False),
    _c("pick.cancel", "escape", "Cancel", "pick", "cancel"),
    _c("quit.yes", "y", "Quit", "quit", "yes"),
    _c("quit.no", "n", "Stay", "quit", "no"),
    _c("quit.no2", "escape", "Stay", "quit", "no", show=False),
)

# `?` shows these sections, in this order (scope → title)
SECTIONS = (("app", "Everywhere"), ("dashboard", "Dashboard"), ("wall", "Wall (--layout wall)"), ("detail", "Service detail"),
            ("incident_table", "Incident table"), ("incident_detail", "Incident detail"),
            ("replay", "Replay (opsconsole replay; changes refused)"),
            ("rewind", "Rewind (the live dashboard, an attached viewer's on its own; changes refused while rewound)"),
            ("panel:conversion", "Mitigations · conversion panel"),
            ("panel:converge", "Mitigations · debt panel (Converge)"),
            ("panel:path_tracker", "Mitigations · rollout panel"),
            ("panel:data_pipeline", "Mitigations · data pipeline strip"),
            ("panel:pipelines", "Mitigations · kill switches"),
            ("config", "Mitigations · from the config"),
            ("confirm", "Confirm dialog"))

_ARROWS = {"left": "←", "right": "→", "up": "↑", "down": "↓"}
_NAMED = {"enter", "escape", "tab", "space", "backspace", "delete", "insert", "home", "end", "pageup", "pagedown",
          *_ARROWS, *(f"f{n}" for n in range(1, 25))}
_MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")


_ALIASES = {"plus": "+", "minus": "-", "less_than_sign": "<", "greater_than_sign": ">"}  # Textual's own names


def _char(name: str) -> str | None:
    """Textual names a printable key by its Unicode name (`question_mark` is `?`); emoji are not keys."""
    if len(name) == 1:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    try:
        char = unicodedata.lookup(name.replace("_", " ").upper())
    except KeyError:
        return None
    return char if ord(char) < 0x2000 else None


def valid_key(key: str) -> bool:
    *mods, base = key.split("+") if key != "+" else [key]
    return all(m in _MODIFIERS for m in mods) and (base in _NAMED or _char(base) is not None)


def key_display(key: str) -> str:
    *mods, base = key.split("+") if key != "+" else [key]
    shown = _ARROWS.get(base) or (base if base in _NAMED else _char(base) or base)
    return "+".join([*mods, shown])


class Registry:
    """Every command of this console: the static ones plus one per mitigation that has a key."""

    def __init__(self, commands: list[Command]) -> None:
        self.commands = commands

    def scope(self, scope: str, service: str | None = None) -> list[Command]:
        """The commands of one scope; config actions only on their own service's panel."""
        return [c for c in self.commands
                if c.scope == scope or (c.scope == "config:" + scope.removeprefix("panel:")
                                        and (service is None or c.service in (None, service)))]

    def get(self, id_: str) -> list[Command]:
        return [c for c in self.commands if c.id == id_]

    def sections(self) -> list[tuple[str, list[Command]]]:
        out = []
        for scope, title in SECTIONS:
            if scope == "config":
                cmds = [c for c in self.commands if c.scope.startswith("config:")]
            else:
                cmds = [c for c in self.commands if c.scope == scope]
            if scope == "incident_detail":  # one line for 1-9
                cmds = [c for c in cmds if not re.fullmatch(r"incident\.mitigation[2-9]", c.id)]
            if cmds:
                out.append((title, cmds))
        return out

    def markdown(self) -> str:
        """The README's key tables (tests/test_commands.py checks the README against this)."""
        out = []
        for title, commands in self.sections():
            out += [f"**{title}**", "", "| key | does | id |", "|---|---|---|"]
            for c in commands:
                does = c.title + (f": {c.note}" if c.note else "") + {"send": " (refused in replay and read-only)",
                                                                         "change": " (refused in replay)"}.get(c.mutates, "")
                out.append(f"| `{c.display}` | {does} | `{c.id}` |")
            out.append("")
        return "\n".join(out).rstrip() + "\n"

    def palette(self) -> list[Command]:
        """One entry per command id (the palette lists what can be done, not every key)."""
        seen: dict[str, Command] = {}
        for c in self.commands:
            if c.scope not in ("help", "confirm", "pick", "incident_dialog", "replay_goto", "quit", "filter") \
                    and c.id not in seen:
                seen[c.id] = c
        return list(seen.values())


def build_registry(actions: list[dict], keys: dict[str, str] | None = None, source: str = "config") -> Registry:
    """Static commands + mitigations (dicts as in View.actions), with `[keys]` applied; ConfigError on a bad entry."""
    commands = list(STATIC)
    for a in actions:
        if not a.get("key") or a.get("hidden"):
            continue
        scope = ("config:" if a.get("service") else "panel:") + a["kind"]
        commands.append(Command(a["id"], a["key"], a.get("short") or a["title"], scope,
                                f"app.request_action('{a['id']}')", mutates="send",
                                dangerous=bool(a.get("dangerous")), service=a.get("service")))
    known = {c.id for c in commands}
    for id_, key in (keys or {}).items():
        if id_ not in known:
            raise ConfigError(f"{source}: keys.{id_}: no command with this id (see `?` for the ids)")
        if not isinstance(key, str) or not valid_key(key):
            raise ConfigError(f"{source}: keys.{id_}: {key!r} is not a key name (e.g. \"f1\", \"ctrl+a\", \"x\")")
    if keys:
        commands = [replace(c, key=keys.get(c.id, c.key)) for c in commands]
    return Registry(commands)


if __name__ == "__main__":  # python -m console.commands: the README's key tables, for the built-in mitigations
    from console.mitigations.catalog import action_rows, builtin_actions

    print(build_registry(action_rows({a.id: a for a in builtin_actions()})).markdown(), end="")
