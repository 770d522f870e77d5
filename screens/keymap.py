"""Every key binding in one place, each with an id the config's [keys] table can remap."""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding

from console.mitigations.catalog import builtin_actions

APP = [
    Binding("q", "quit", "Quit", id="app.quit"),
    Binding("question_mark", "help", "Keys", key_display="?", id="app.help"),
    Binding("ctrl+p", "command_palette", "Palette", show=False, id="app.palette"),
    Binding("u", "undo", "Undo", id="app.undo"),  # the inverse of the last action, through the confirm dialog
]

DASHBOARD = [
    Binding("enter", "open_detail", "Detail", id="dashboard.detail"),
    Binding("tab", "app.focus_next", "Next panel", show=False, id="dashboard.next"),
    Binding("shift+tab", "app.focus_previous", "Prev panel", show=False, id="dashboard.prev"),
    Binding("right", "move('right')", "→ panel", show=False, id="dashboard.right"),
    Binding("left", "move('left')", "← panel", show=False, id="dashboard.left"),
    Binding("down", "move('down')", "↓ panel", show=False, id="dashboard.down"),
    Binding("up", "move('up')", "↑ panel", show=False, id="dashboard.up"),
]

DETAIL = [
    Binding("escape", "app.pop_screen", "Back", id="detail.back"),
    Binding("backspace", "app.pop_screen", "Back", show=False, id="detail.back2"),
]

HELP = [
    Binding("escape", "app.pop_screen", "Close", id="help.close"),
    Binding("question_mark", "app.pop_screen", "Close", show=False, key_display="?", id="help.close2"),
]

# The incident table (on the widget, so the footer shows them while it is focused) and the incident
# detail share ids: remapping "incident.ack" remaps both.
INCIDENT_TABLE = [
    Binding("enter", "select_cursor", "Incident", id="incident.open"),
    Binding("a", "incident('acknowledge')", "Ack", id="incident.ack"),
    Binding("m", "incident('mitigating')", "Mitigating", id="incident.mitigating"),
    Binding("r", "incident('resolve')", "Resolve", id="incident.resolve"),
]

INCIDENT_DETAIL = [
    Binding("escape", "app.pop_screen", "Back", id="incident.back"),
    Binding("a", "incident('acknowledge')", "Ack", id="incident.ack"),
    Binding("U", "incident('unacknowledge')", "Un-ack", id="incident.unack"),  # `u` is the app's undo
    Binding("m", "incident('mitigating')", "Mitigating", id="incident.mitigating"),
    Binding("r", "incident('resolve')", "Resolve", id="incident.resolve"),
    Binding("d", "incident('document')", "Documented", id="incident.document"),
    Binding("t", "next_draft", "Next draft", id="incident.draft"),
    Binding("c", "copy_draft", "Copy draft", id="incident.copy"),
    Binding("e", "export_draft", "Draft to file", id="incident.export"),
    Binding("1", "mitigation(1)", "Mitigation 1 (2-9: the next ones)", show=False, id="incident.mitigation1"),
    *(Binding(str(n), f"mitigation({n})", f"Mitigation {n}", show=False, id=f"incident.mitigation{n}")
      for n in range(2, 10)),
]

INCIDENT_DIALOG = [
    Binding("escape", "cancel", "Cancel", id="incident_dialog.cancel"),
]

# `opsconsole replay`: priority bindings, so ←/→ step the timeline even while a table has the focus.
REPLAY = [
    Binding("space", "toggle_play", "Play/pause", id="replay.play", priority=True),
    Binding("left", "step(-10)", "−10s", id="replay.back", priority=True),
    Binding("right", "step(10)", "+10s", id="replay.forward", priority=True),
    Binding("shift+left", "step(-60)", "−1 min", show=False, id="replay.back_minute", priority=True),
    Binding("shift+right", "step(60)", "+1 min", show=False, id="replay.forward_minute", priority=True),
    Binding("left_square_bracket", "jump(-1)", "Prev event", key_display="[", id="replay.prev", priority=True),
    Binding("right_square_bracket", "jump(1)", "Next event", key_display="]", id="replay.next", priority=True),
    Binding("plus", "speed(1)", "Faster", key_display="+", id="replay.faster", priority=True),
    Binding("minus", "speed(-1)", "Slower", key_display="-", id="replay.slower", priority=True),
    Binding("g", "goto", "Go to", id="replay.goto", priority=True),
    Binding("home", "edge('start')", "Start", show=False, id="replay.start", priority=True),
    Binding("end", "edge('end')", "End", show=False, id="replay.end", priority=True),
]
REPLAY_GOTO = [Binding("escape", "cancel", "Cancel", id="replay.goto_cancel")]

# Shown in the help screen, in this order.
SECTIONS = [("Everywhere", APP), ("Dashboard", DASHBOARD), ("Service detail", DETAIL),
            ("Incident table", INCIDENT_TABLE),
            ("Incident detail", [b for b in INCIDENT_DETAIL if not b.id[:-1].endswith("mitigation") or b.id[-1] == "1"]),
            ("Replay (opsconsole replay; mitigations disabled)", REPLAY)]

# --- mitigations ----------------------------------------------------------------------------
# Each panel's action keys come from console/mitigations/mitigations.toml (binding id = action id). They sit on the
# panel widgets themselves, so the footer shows them only while that panel is focused.


def _action_keys(kind: str) -> list[Binding]:
    return [Binding(a.key, f"app.request_action('{a.id}')", a.short or a.title, id=a.id)
            for a in builtin_actions() if a.kind == kind and a.key and not a.hidden]


ACTION_KEYS = {kind: _action_keys(kind) for kind in ("conversion", "converge", "path_tracker", "data_pipeline")}
SWITCHES = [Binding("x", "app.toggle_switch", "Toggle row", id="switches.toggle"), *_action_keys("pipelines")]
PANELS = {"conversion": "#conversion", "converge": "#debt", "path_tracker": "#rollout",
          "data_pipeline": "#strip", "pipelines": "KillSwitches"}  # where each kind's action keys live
CONFIRM = [
    Binding("y", "send", "Send", id="confirm.send"),
    Binding("n", "cancel", "Cancel", id="confirm.cancel"),
    Binding("escape", "cancel", "Cancel", show=False, id="confirm.cancel2"),
]
PICK = [Binding("escape", "cancel", "Cancel", id="pick.cancel")]
CUSTOM: list[Binding] = []  # the config's [[actions]] keys, bound when the dashboard opens

SECTIONS += [("Mitigations · conversion panel", ACTION_KEYS["conversion"]),
             ("Mitigations · debt panel (Converge)", ACTION_KEYS["converge"]),
             ("Mitigations · rollout panel", ACTION_KEYS["path_tracker"]),
             ("Mitigations · data pipeline strip", ACTION_KEYS["data_pipeline"]),
             ("Mitigations · kill switches", SWITCHES),
             ("Confirm dialog", CONFIRM)]


def bind_actions(dashboard, actions, read_only: bool) -> None:
    """Bind the config's actions to their service's panel; in read-only mode every action key says so (⊘).

    Textual has no public API to change one widget's bindings at runtime, hence `_bindings`.
    """
    CUSTOM.clear()
    for a in actions:
        if a.service is None or not a.key or a.hidden:
            continue
        b = Binding(a.key, f"app.request_action('{a.id}')", a.short or a.title, id=a.id)
        CUSTOM.append(b)
        for w in dashboard.query(PANELS.get(a.kind, "#none")):
            if a.kind == "pipelines" or getattr(w, "service", None) == a.service:
                w._bindings.key_to_bindings.setdefault(b.key, []).append(b)
    if CUSTOM and not any(keys is CUSTOM for _, keys in SECTIONS):  # in `?`, before the confirm dialog's keys
        SECTIONS.insert(len(SECTIONS) - 1, ("Mitigations · from the config", CUSTOM))
    if read_only:
        for sel in PANELS.values():
            for w in dashboard.query(sel):
                for key, bs in w._bindings.key_to_bindings.items():
                    w._bindings.key_to_bindings[key] = [
                        replace(b, description=f"⊘ {b.description}") if "request_action" in b.action
                        or "toggle_switch" in b.action else b for b in bs]
    dashboard.refresh_bindings()
