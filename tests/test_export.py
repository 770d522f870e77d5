"""Export: CSV, JSON lines and OpenMetrics text of a recording's samples (round trip through real promtool),
selectors and time bounds; `opsconsole recordings` lists the files."""

from __future__ import annotations

import csv
import json
import os
import subprocess

import pytest

from conftest import require_binary
from console.cli import main
from console.recording.writer import open_recorder
from console.recording.format import SERIES, Recording


async def _recorded(watch_factory):
    w = await watch_factory("error-spike", tick=5.0, metrics_interval=5.0)
    rec = await open_recorder(w.engine)  # into <data_dir>/recordings, as the TUI does
    await w.run_for(300)
    await rec.stop()
    return rec.path


def _samples(path) -> int:
    """Samples in the file, straight from its tables."""
    r = Recording(path)
    try:
        assert r.conn.execute("SELECT count(*) FROM head").fetchone()[0] == 0  # all sealed on stop
        return r.conn.execute("SELECT sum(c.n) FROM chunks c JOIN streams s ON s.id = c.stream_id"
                              " WHERE s.kind = ?", (SERIES,)).fetchone()[0]
    finally:
        r.close()


async def test_csv_and_jsonl_with_selector_and_bounds(watch_factory, tmp_path, capsys):
    path = await _recorded(watch_factory)
    assert main(["export", str(path), "--format", "csv", "-o", str(tmp_path / "all.csv")]) == 0
    rows = list(csv.reader((tmp_path / "all.csv").open()))
    assert rows[0] == ["timestamp", "metric", "labels", "value"]
    assert len(rows) - 1 == _samples(path)

    sel = 'http_requests_total{job="datapipe", status_code=~"5.."}'
    assert main(["export", str(path), "--format", "jsonl", "--series", sel, "--from", "-1m"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines and {x["metric"] for x in lines} == {"http_requests_total"}
    assert all(x["labels"]["status_code"].startswith("5") for x in lines)
    r = Recording(path)
    end = r.end
    r.close()
    assert min(x["ts"] for x in lines) >= end - 60 - 0.001
    # counters only grow within one series
    by_series: dict[str, list] = {}
    for x in lines:
        by_series.setdefault(json.dumps(x["labels"], sort_keys=True), []).append(x["value"])
    assert all(v == sorted(v) for v in by_series.values())

    assert main(["export", str(path), "--format", "csv", "--series", "sum(up)"]) == 2
    assert "not a series selector" in capsys.readouterr().err


@pytest.mark.external
async def test_openmetrics_loads_into_a_real_prometheus_tsdb(watch_factory, tmp_path):
    promtool = require_binary("promtool")
    path = await _recorded(watch_factory)
    om = tmp_path / "x.om"
    assert main(["export", str(path), "--format", "openmetrics", "--series", '{job="datapipe"}', "-o", str(om)]) == 0
    text = om.read_text()
    assert text.endswith("# EOF\n")
    exported = [ln for ln in text.splitlines() if not ln.startswith("#")]
    blocks = tmp_path / "tsdb"
    done = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(blocks)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (blocks / "wal").mkdir(exist_ok=True)  # `tsdb dump` wants one
    dump = subprocess.run([promtool, "tsdb", "dump", str(blocks)], capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0, dump.stderr
    got = dump.stdout.splitlines()
    assert len(got) == len(exported) > 1000
    # one sample both ways: `name{labels} value seconds` → `{__name__="name", labels} value milliseconds`
    name_labels, value, ts = exported[-1].rsplit(" ", 2)
    name, labels = name_labels.split("{", 1)
    want = f'{{__name__="{name}", ' + labels.replace('",', '", ')
    line = next(x for x in got if x.startswith(want) and x.endswith(f" {round(float(ts) * 1000)}"))
    assert float(line.rsplit(" ", 2)[1]) == float(value)


async def test_recordings_lists_start_end_services_size(watch_factory, capsys, tmp_path):
    path = await _recorded(watch_factory)
    bad = path.parent / "broken.opsrec"
    bad.write_text("nope")
    assert main(["recordings"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith(str(path)))
    assert "→" in line and "MB" in line and "pulse" in line and "datapipe" in line
    assert "broken.opsrec" in out and "not an SQLite file" in out
    assert main(["recordings", "--dir", str(tmp_path / "none")]) == 0
    assert "no recordings" in capsys.readouterr().out
    assert os.path.exists(path)
