"""contrib/monitoring: every metric (and every label, and every fixed label value) the Prometheus alerting rules
and the Grafana dashboard name is one a running central's GET /metrics serves. No promtool on a minimal Debian
(the `prometheus` package is large): the expressions are parsed here for their selectors."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from central import alerts
from tests.central.conftest import check_in, central_dict, outbox_empty, vaccinate, wait_for
from tests.support.net import free_port

MONITORING = Path(__file__).resolve().parents[2] / "contrib" / "monitoring"
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
# Labels whose values are a fixed set in central's code: a rule matching another value would never fire.
FIXED_VALUES = {"code": set(alerts.TITLES), "state": {"online", "lost", "offline"},
                "stream": {"checkins", "vaccinations", "corrections", "print_events"}, "quantile": {"0.5", "0.9", "0.99"}}


def selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(metric, [(label, op, value)]) of each series selector in a PromQL expression."""
    s = re.sub(r"\[[^\]]*\]", "", expr)  # range and subquery brackets
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", s)
    found = []
    for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?", s):
        name, labels, call = m.groups()
        if call or name in KEYWORDS:
            continue
        found.append((name, re.findall(r'(\w+)\s*(=~|!=|!~|=)\s*"([^"]*)"', labels or "")))
    return found


def expressions() -> list[str]:
    rules = re.findall(r"^\s*expr:\s*(.+?)\s*$", (MONITORING / "prometheus-alerts.yml").read_text(), re.M)
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    panels = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(rules) >= 8 and len(panels) >= 8
    return rules + panels


def served(text: str) -> tuple[dict[str, str], dict[str, list[dict]]]:
    """(family → type, series name → label sets) of a Prometheus text answer."""
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    samples: dict[str, list[dict]] = {}
    for name, labels in re.findall(r"^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? \S+$", text, re.M):
        samples.setdefault(name, []).append(dict(re.findall(r'(\w+)="([^"]*)"', labels)))
    return families, samples


def test_the_parser_sees_what_an_expression_names():
    assert selectors('sum by (site) (increase(a_total{stream="x", site=~"GL-.*"}[1h])) > 2 and on (x) b') == [
        ("a_total", [("stream", "=", "x"), ("site", "=~", "GL-.*")]), ("b", [])]
    assert selectors("absent(up_metric)") == [("up_metric", [])]


def test_every_metric_the_rules_and_dashboard_name_is_served(tmp_path, mosquitto, kiosk_apps):
    from central.app import CentralApp
    from central.config import from_dict

    config = central_dict(tmp_path, mosquitto.port)
    config["alert_webhook"] = {"url": f"http://127.0.0.1:{free_port()}/nobody-listens"}  # a pending notification
    app = CentralApp(from_dict(config))
    app.start()
    try:
        kiosk = kiosk_apps("GL-01", "gl-mon")
        vaccinate(kiosk, check_in(kiosk, 1))
        wait_for(lambda: outbox_empty(kiosk), 20, what="records delivered")
        ops = next(p for p in app.parts if p.name == "web")
        with urllib.request.urlopen(f"http://127.0.0.1:{ops.web_port}/metrics", timeout=10) as r:
            families, samples = served(r.read().decode())
    finally:
        app.stop()

    problems = []
    for expr in expressions():
        for name, matchers in selectors(expr):
            family = re.sub(r"_(count|sum)$", "", name) if name not in families else name
            if family not in families:
                problems.append(f"{expr}: {name} is not served")
                continue
            have = samples.get(name, [])
            names = set().union(*(set(s) for s in have)) if have else None
            for label, op, value in matchers:
                if names is not None and label not in names:
                    problems.append(f"{expr}: {name} has no label {label} (it has {sorted(names)})")
                if label in FIXED_VALUES and op in ("=", "=~"):
                    unknown = set(value.split("|")) - FIXED_VALUES[label]
                    if unknown:
                        problems.append(f"{expr}: {label} never takes {sorted(unknown)}")
    assert not problems, "\n".join(problems)
    # The per-site counters are there, with the kiosk's records.
    assert {"site": "GL-01", "stream": "vaccinations"} in samples["vaxkiosk_central_site_records_total"]
    assert {"site": "GL-01", "state": "online"} in samples["vaxkiosk_central_site_kiosks"]
    assert samples["vaxkiosk_central_alert_notifications_pending"] == [{"channel": "webhook"}]
