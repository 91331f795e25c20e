"""Charts as standalone SVG strings, drawn on the server (no CDN, no script, no external
resource); every text is escaped. Two kinds: grouped bars and lines."""

from html import escape

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 40, 90
COLOURS = ("#b3202a", "#1f5fa8", "#2e8540", "#c77700", "#6b3fa0", "#4a4a4a", "#0f8b8d", "#a0522d")


def _frame(title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>'
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 2.5, 5):
        for power in range(-4, 9):
            top = step * 10**power
            if top >= value:
                return top
    return value


def _axis(top: float, unit: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        v = top * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        label = f"{v:g}{escape(unit)}"
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    return parts


def _legend(names: list[str]) -> list[str]:
    parts = []
    for i, name in enumerate(names):
        x = LEFT + (i % 2) * 290
        y = HEIGHT - 40 + (i // 2) * 14
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}">{escape(name)}</text>')
    return parts


def bar_chart_svg(
    title: str, categories: list[str], series: dict[str, list[float]], unit: str = ""
) -> str:
    """Grouped bars: one group per category, one bar per series."""
    values = [v for vs in series.values() for v in vs]
    top = _nice_max(max(values, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    body = _axis(top, unit)
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for s, (_name, vs) in enumerate(series.items()):
        for c, value in enumerate(vs):
            h = plot_h * max(value, 0) / top
            x = LEFT + c * group_w + group_w * 0.1 + s * bar_w
            body.append(
                f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[s % len(COLOURS)]}"><title>{escape(_name)}: '
                f"{value:g}{escape(unit)}</title></rect>"
            )
    for c, category in enumerate(categories):
        x = LEFT + (c + 0.5) * group_w
        body.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">'
            f"{escape(category)}</text>"
        )
    if len(series) > 1:
        body += _legend(list(series))
    return _frame(title, body)


def line_chart_svg(
    title: str, x: list[float], series: dict[str, list[float]], x_label: str, y_label: str
) -> str:
    """Lines over a shared x axis, one per series."""
    values = [v for vs in series.values() for v in vs]
    top = _nice_max(max(values, default=0.0))
    x_min, x_max = (min(x), max(x)) if x else (0.0, 1.0)
    span = (x_max - x_min) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    body = _axis(top, "")
    for i, (_name, vs) in enumerate(series.items()):
        points = " ".join(
            f"{LEFT + plot_w * (xv - x_min) / span:.1f},{HEIGHT - BOTTOM - plot_h * v / top:.1f}"
            for xv, v in zip(x, vs, strict=False)
        )
        body.append(
            f'<polyline points="{points}" fill="none" '
            f'stroke="{COLOURS[i % len(COLOURS)]}" stroke-width="2"/>'
        )
    for i in range(5):
        xv = x_min + span * i / 4
        px = LEFT + plot_w * i / 4
        body.append(
            f'<text x="{px:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{xv:g}</text>'
        )
    body.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - BOTTOM + 30}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    body.append(
        f'<text x="14" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2})">'
        f"{escape(y_label)}</text>"
    )
    body += _legend(list(series))
    return _frame(title, body)
