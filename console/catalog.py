"""The catalog: config, rules and mitigations read once and checked against each other."""

from __future__ import annotations

from dataclasses import dataclass

from console import promql
from console.config.schema import Config, ConfigError, load_config
from console.commands import build_registry
from console.mitigations.catalog import Action, action_rows, evidence_exprs, load_actions
from console.rules.load import Rule, load_rules


@dataclass(frozen=True)
class Catalog:
    """Everything the console is told before it polls: what to watch, what to raise, what it may send."""

    cfg: Config
    rules: tuple[Rule, ...]
    actions: dict[str, Action]

    @property
    def evidence(self) -> list[str]:
        """The PromQL that mitigations are verified by (the store must keep the series they read)."""
        return evidence_exprs(self.actions)


def build_catalog(cfg: Config) -> Catalog:
    """Load rules and mitigations for a config; ConfigError names the file and key of the first problem."""
    actions = load_actions(cfg)
    rules = tuple(load_rules(cfg, promql.check))
    for r in rules:  # a rule may only name mitigations that exist
        for a in r.actions:
            if a not in actions:
                raise ConfigError(f"{cfg.source_path}: rules ({r.name}).actions: no mitigation {a!r}")
    build_registry(action_rows(actions), cfg.keys, cfg.source_path)  # [keys]: unknown ids and bad key names
    return Catalog(cfg, rules, actions)


def load_catalog(path: str, env: str | None = None, read_only: bool = False) -> Catalog:
    cfg = load_config(path).with_environment(env)
    if read_only:
        cfg = cfg.model_copy(update={"read_only": True})
    return build_catalog(cfg)
