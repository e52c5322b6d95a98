"""Small inline SVG charts (no JavaScript, no external library): a sparkline and bar charts per hour or day."""

from __future__ import annotations

from markupsafe import Markup, escape


def envelope(values: list[float | None], buckets: int) -> list[float | None]:
    """At most 2 × `buckets` values: each bucket's lowest and highest, in the order they came, so that a spike
    narrower than a pixel still shows (a day of reports is thousands of values for a chart 240 pixels wide)."""
    if len(values) <= 2 * buckets:
        return values
    out: list[float | None] = []
    size = len(values) / buckets
    for b in range(buckets):
        part = [(i, v) for i, v in enumerate(values[int(b * size):int((b + 1) * size)]) if v is not None]
        if not part:
            out.append(None)
            continue
        low, high = min(part, key=lambda p: p[1]), max(part, key=lambda p: p[1])
        out += [v for _, v in sorted({low, high})]
    return out


def sparkline(values: list[float | None], width: int = 240, height: int = 48, label: str = "") -> Markup:
    values = envelope(values, width)
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    title = f"<title>{escape(label)}</title>" if label else ""
    if not points:
        return Markup(f'<svg class="spark" width="{width}" height="{height}" role="img" aria-label="{escape(label)}: '
                      f'no data">{title}<text x="4" y="{height // 2 + 4}">—</text></svg>')
    hi = max(v for _, v in points)
    lo = min(0.0, min(v for _, v in points))
    span = (hi - lo) or 1.0
    n = max(1, len(values) - 1)
    coords = " ".join(f"{2 + i * (width - 4) / n:.1f},{height - 2 - (v - lo) * (height - 4) / span:.1f}"
                      for i, v in points)
    last = points[-1][1]
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}: last {last:g}, max {hi:g}">{title}'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{coords}"/>'
        f'<text x="{width - 2}" y="12" text-anchor="end">{last:g} (max {hi:g})</text></svg>'
    )


def hourly_bars(series: dict[str, list[int]], width: int = 720, height: int = 160) -> Markup:
    """Grouped bars per hour for each metric (a class per metric gives the colour)."""
    return bars(series, [f"{h:02d}h" for h in range(24)], 3, "per hour", width, height)


def daily_bars(series: dict[str, list[int]], days: list[str], width: int = 720, height: int = 160) -> Markup:
    """Grouped bars per day of a range (labels dd/mm, about eight of them)."""
    return bars(series, [f"{d[8:10]}/{d[5:7]}" for d in days], max(1, len(days) // 8), "per day", width, height)


def bars(series: dict[str, list[int]], labels: list[str], label_every: int, what: str, width: int = 720,
         height: int = 160) -> Markup:
    metrics = list(series)
    hi = max([1] + [v for s in series.values() for v in s])
    slot = (width - 30) / max(1, len(labels))
    bar = slot / (len(metrics) + 1)
    parts = [f'<svg class="bars" width="{width}" height="{height + 20}" viewBox="0 0 {width} {height + 20}" '
             f'role="img" aria-label="{what}, highest {hi}">']
    for i, label in enumerate(labels):
        x0 = 30 + i * slot
        for j, m in enumerate(metrics):
            v = series[m][i]
            bh = v * (height - 10) / hi
            parts.append(f'<rect class="m-{m}" x="{x0 + j * bar:.1f}" y="{height - bh:.1f}" width="{bar:.1f}" '
                         f'height="{bh:.1f}"><title>{escape(label)} {m}: {v}</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x0:.1f}" y="{height + 14}">{escape(label)}</text>')
    parts.append(f'<text x="0" y="12">{hi}</text><line x1="28" y1="{height}" x2="{width}" y2="{height}" '
                 f'stroke="currentColor"/></svg>')
    return Markup("".join(parts))
