"""Each simulator scenario drives its panel and its runbook rule, over real HTTP with a virtual clock."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio

# scenario → (rule that must fire, virtual seconds allowed, figure check on the panel)
SCENARIOS = {
    "conversion-stall": ("ConversionPipelineStall", 420, ("pulse", "status_reported", "stale")),
    "emission-gap": ("ConversionEmissionGap", 1500, ("pulse", "missing_unexpected", ["upgrade_clicked"])),
    "cardinality-overflow": ("ConversionCardinalityHigh", 600, None),
    "unsubscribe-spike": ("UnsubscribeSpike", 1800, None),
    "crisis-sla": ("CrisisAlertSLAViolations", 1800, None),
    "debt-surge": ("VerificationDebtRed", 1200, ("converge", "debt_band", "red")),
    "fallback-spike": ("PathTrackerFallbackRate", 1200, None),
    "generate-errors": ("PathTrackerGenerateErrors", 900, None),
    "error-spike": ("HighErrorRate", 900, None),
    "latency": ("HighLatencyP95", 900, None),
    "queue-full": ("MetadataLogQueueFull", 900, None),
    "brute-force": ("PotentialBruteForce", 900, None),
    "service-down": ("ServiceDown", 300, ("datapipe", "ready", False)),
}


async def test_normal_fleet_is_calm_and_every_panel_fills(watch_factory):
    w = await watch_factory("normal")
    state = await w.run_for(600)
    for name, svc in state.services.items():
        assert svc.error is None, (name, svc.error)
        assert svc.last_ok is not None and svc.figures, name
    severe = [r.name for r in state.firing if r.severity in ("P1", "P2")]
    assert severe == []
    pulse = state.services["pulse"].figures
    assert pulse["status_reported"] == "degraded" and pulse["degraded_expected"] is True
    assert pulse["rate_1m"] and pulse["rate_1m"] > 0
    assert state.services["converge"].figures["debt_band"] == "green"
    assert state.services["path-tracker"].figures["percent"] == 35
    assert len(state.services["storytailor"].figures["switches"]) == 8


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_scenario_fires_its_rule(watch_factory, scenario):
    rule, budget, check = SCENARIOS[scenario]
    w = await watch_factory(scenario)
    fired_at = None
    elapsed = 0
    while elapsed < budget:
        await w.run_for(30)
        elapsed += 30
        r = w.rule(rule)
        if r is not None and r.state == "firing":
            fired_at = elapsed
            break
    assert fired_at is not None, f"{rule} did not fire within {budget}s of {scenario}; active: {[x.name for x in w.engine.state.rules]}"
    if check:
        svc, key, value = check
        assert w.engine.state.services[svc].figures[key] == value


async def test_conversion_stall_becomes_stale_after_five_virtual_minutes(watch_factory):
    w = await watch_factory("conversion-stall", tick=1.0)
    await w.run_for(290)
    assert w.engine.state.services["pulse"].figures["status_reported"] != "stale"
    assert w.rule("ConversionPipelineStall") is None
    await w.run_for(20)
    assert w.engine.state.services["pulse"].figures["status_reported"] == "stale"
    assert w.rule("ConversionPipelineStall").state == "firing"


async def test_a_stall_is_one_incident_not_one_more_per_frontend_type(watch_factory):
    """Every type at 0 is the stall (P2), not an Emission Gap per type: that is for types missing while others flow."""
    w = await watch_factory("conversion-stall", tick=5.0)
    await w.run_for(900)
    assert w.rule("ConversionPipelineStall").state == "firing"
    assert [r for r in w.engine.state.rules if r.name == "ConversionEmissionGap"] == []
    assert [i.rule for i in w.engine.state.incidents if i.is_open] == ["ConversionPipelineStall"]


async def test_service_down_keeps_other_panels_updating(watch_factory):
    w = await watch_factory("service-down")
    state = await w.run_for(120)
    dp = state.services["datapipe"]
    assert dp.error and "503" in dp.error
    assert "\n" not in dp.error
    for name in ("pulse", "converge", "path-tracker", "storytailor"):
        assert state.services[name].error is None
        assert state.ts - state.services[name].last_ok <= 5
