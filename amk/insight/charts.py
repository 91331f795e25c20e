"""Charts as standalone SVG, drawn on the server: no JavaScript, no CDN, no external resource.

``bar_chart_svg`` (grouped bars) and ``line_chart_svg`` return an ``<svg>`` string with every
text escaped, to be inlined in a page or saved as a file (the policy simulator's report).
"""

import math
from html import escape

WIDTH, HEIGHT = 660, 320
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 40, 72
# Colour-blind safe (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
FONT = 'font-family="system-ui, sans-serif"'


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.3g}" if abs(value) >= 1 else f"{value:.2g}"


def _nice_max(value: float) -> float:
    """A round upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _clean(values: list[float]) -> list[float]:
    return [v if v is not None and math.isfinite(v) else 0.0 for v in values]


def _open(title: str, label: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{MARGIN_LEFT}" y="24" {FONT} font-size="15" font-weight="600" '
        f'fill="#1f2933">{escape(title)}</text>',
    ]


def _y_axis(parts: list[str], top: float, unit: str) -> None:
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - MARGIN_BOTTOM - plot_h * i / 4
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d9dee3" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" {FONT} font-size="11" '
            f'text-anchor="end" fill="#52606d">{escape(_fmt(value))}{escape(unit)}</text>'
        )


def _legend(parts: list[str], names: list[str]) -> None:
    x = MARGIN_LEFT
    y = HEIGHT - 14
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(
            f'<text x="{x + 14}" y="{y}" {FONT} font-size="11" fill="#1f2933">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)


def bar_chart_svg(
    title: str, categories: list[str], series: dict[str, list[float]], unit: str = ""
) -> str:
    """Grouped bars: one group per category, one bar per series (in the legend's order)."""
    names = list(series)
    values = {name: _clean(list(series[name])) for name in names}
    top = _nice_max(max((max(v, default=0.0) for v in values.values()), default=0.0))
    parts = _open(title, title)
    _y_axis(parts, top, unit)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    groups = max(len(categories), 1)
    group_w = plot_w / groups
    bar_w = group_w * 0.8 / max(len(names), 1)
    base = HEIGHT - MARGIN_BOTTOM
    label_every = max(1, math.ceil(groups * 90 / plot_w))  # about 90 px per label
    for g, category in enumerate(categories):
        x0 = MARGIN_LEFT + g * group_w + group_w * 0.1
        for s, name in enumerate(names):
            v = values[name][g] if g < len(values[name]) else 0.0
            h = plot_h * max(v, 0.0) / top
            parts.append(
                f'<rect class="bar" x="{x0 + s * bar_w:.1f}" y="{base - h:.1f}" '
                f'width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(category)} · {escape(name)}: '
                f"{escape(_fmt(v))}{escape(unit)}</title></rect>"
            )
        if g % label_every:
            continue  # many groups (days of a year): every n-th label, the bars all drawn
        label = category if len(category) <= 14 else category[:13] + "…"
        cx = MARGIN_LEFT + g * group_w + group_w / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{base + 14}" {FONT} font-size="11" text-anchor="middle" '
            f'fill="#1f2933">{escape(label)}</text>'
        )
    _legend(parts, names)
    parts.append("</svg>")
    return "".join(parts)


def line_chart_svg(
    title: str, x: list[float], series: dict[str, list[float]], x_label: str, y_label: str
) -> str:
    """Lines over a numeric x axis, one per series."""
    names = list(series)
    xs = _clean(list(x))
    values = {name: _clean(list(series[name])) for name in names}
    top = _nice_max(max((max(v, default=0.0) for v in values.values()), default=0.0))
    x_min, x_max = (min(xs), max(xs)) if xs else (0.0, 1.0)
    span = (x_max - x_min) or 1.0
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    base = HEIGHT - MARGIN_BOTTOM
    parts = _open(title, f"{title}: {y_label} / {x_label}")
    _y_axis(parts, top, "")

    def px(v: float) -> float:
        return MARGIN_LEFT + plot_w * (v - x_min) / span

    if all(v == int(v) for v in xs) and span >= 5:
        step = math.ceil(span / 6)  # whole numbers (hours, counts): whole ticks
        ticks = [x_min + step * i for i in range(int(span // step) + 1)]
    else:
        ticks = [x_min + span * i / 5 for i in range(6)]
    for v in ticks:
        parts.append(
            f'<text x="{px(v):.1f}" y="{base + 14}" {FONT} font-size="11" '
            f'text-anchor="middle" fill="#52606d">{escape(_fmt(v))}</text>'
        )
    parts.append(
        f'<text x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{base + 32}" {FONT} font-size="12" '
        f'text-anchor="middle" fill="#1f2933">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text x="14" y="{MARGIN_TOP + plot_h / 2:.1f}" {FONT} font-size="12" '
        f'text-anchor="middle" fill="#1f2933" '
        f'transform="rotate(-90 14 {MARGIN_TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    for s, name in enumerate(names):
        points = " ".join(
            f"{px(xv):.1f},{base - plot_h * max(yv, 0.0) / top:.1f}"
            for xv, yv in zip(xs, values[name], strict=False)
        )
        parts.append(
            f'<polyline class="line" points="{points}" fill="none" '
            f'stroke="{PALETTE[s % len(PALETTE)]}" stroke-width="2"><title>{escape(name)}</title>'
            f"</polyline>"
        )
    _legend(parts, names)
    parts.append("</svg>")
    return "".join(parts)
