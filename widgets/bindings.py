"""Textual bindings from the command registry: the one place that touches Textual's per-node binding maps."""

from __future__ import annotations

from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode

from console.commands import Command


def binding(c: Command, refused: frozenset[str] = frozenset()) -> Binding:
    """`refused`: what this console refuses (replay: "send" and "change"; read-only: "send"); such a key still
    answers (with the reason) and its label says ⊘."""
    title = f"⊘ {c.title}" if c.mutates and c.mutates in refused else c.title
    shown = c.display if c.display != c.key else None  # named keys (enter, escape) keep Textual's own symbols
    return Binding(c.key, c.action, title, show=c.show, key_display=shown, priority=c.priority, id=c.id)


def install(node: DOMNode, scope: str, service: str | None = None, mitigations_only: bool = False) -> None:
    """Give a widget or screen the registry's keys for `scope`, ahead of its own (a DataTable's cursor keys).

    Textual reads bindings from class attributes; a registry that knows the config's actions and `[keys]`
    exists only at run time, and Textual has no public call to give one node bindings then — hence `_bindings`.
    """
    app = node.app
    registry = getattr(app, "registry", None)
    if registry is None:
        return
    commands = [c for c in registry.scope(scope, service)
                if not mitigations_only or c.action.startswith("app.request_action")]
    ours = BindingsMap([binding(c, getattr(app, "refused", frozenset())) for c in commands])
    node._bindings = BindingsMap.merge([ours, node._bindings])
    node.refresh_bindings()


class HelpFirst:
    """A screen whose footer starts with `? Keys`: Textual lists the focused widget's keys first, and a panel with
    many (kill switches, rollout) pushed the one key that lists them all off a narrow footer (htop starts with
    F1 Help for the same reason)."""

    @property
    def active_bindings(self):
        keys = super().active_bindings
        return {**{k: b for k, b in keys.items() if b.binding.id == "app.help"}, **keys}
