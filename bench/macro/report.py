"""The figures the macro benchmark measures, and the one markdown table it prints.

Results are kept as results[mode][figure_key][system] = {"rounds": [...], "median": x}, or
{"error": msg} when the measurement failed, or {"na": reason} when it does not apply.
"""

import statistics

# Which figure groups a system takes part in: tls pairs, plain pairs, and the ceiling (direct).
GROUPS = ("tls", "plain", "http", "rss")


class Figure:
    def __init__(self, key, group, label, unit, better, fmt):
        self.key, self.group, self.label, self.unit = key, group, label, unit
        self.better, self.fmt = better, fmt  # better: "higher" or "lower"


def figures(rss_counts):
    out = []
    for group, title in (("tls", "TLS 1.3 tunnel"), ("plain", "plain TCP relay")):
        for streams in (1, 8):
            s = "1 stream" if streams == 1 else f"{streams} streams"
            out.append(Figure(f"{group}_p{streams}_gbps", group, f"{title}, iperf3 {s}", "Gb/s",
                              "higher", "{:.2f}"))
            out.append(Figure(f"{group}_p{streams}_cpu", group, f"{title}, CPU per GB, {s}",
                              "s/GB", "lower", "{:.3f}"))
    for mode, title in (("ka", "keep-alive"), ("close", "connection per request")):
        out.append(Figure(f"http_{mode}_rps", "http", f"HTTP 1 KiB, {title}", "req/s", "higher",
                          "{:,.0f}"))
        for p, name in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
            out.append(Figure(f"http_{mode}_{p}", "http", f"HTTP 1 KiB, {title}, {name}", "ms",
                              "lower", "{:.3f}"))
    for i, n in enumerate(rss_counts):
        out.append(Figure(f"rss_{i}", "rss", f"RSS per idle connection, {n:,} open", "KiB",
                          "lower", "{:.1f}"))
    return out


def record(results, mode, key, system, value):
    cell = results.setdefault(mode, {}).setdefault(key, {}).setdefault(system, {"rounds": []})
    cell.setdefault("rounds", []).append(value)
    cell["median"] = statistics.median(cell["rounds"])


def record_error(results, mode, key, system, msg):
    cell = results.setdefault(mode, {}).setdefault(key, {}).setdefault(system, {"rounds": []})
    cell.setdefault("errors", []).append(msg)


def record_na(results, mode, key, system, reason):
    cells = results.setdefault(mode, {}).setdefault(key, {})
    if not (system in cells and cells[system].get("rounds")):
        cells[system] = {"na": reason}


def na_notes(results, systems):
    """Unique (system, reason) for the cells that were not measured, for the table's notes."""
    seen = []
    for mode_cells in results.values():
        for cells in mode_cells.values():
            for s in systems:
                reason = cells.get(s, {}).get("na")
                if reason and (s, reason) not in seen:
                    seen.append((s, reason))
    return seen


def value(results, mode, key, system):
    cell = results.get(mode, {}).get(key, {}).get(system)
    if cell and cell.get("rounds"):
        return cell["median"]
    return None


def missing(results, modes, figs, expected):
    """(mode, figure, system, why) for every cell that should have a value and has none."""
    out = []
    for mode in modes:
        for fig in figs:
            for system in expected(fig):
                cell = results.get(mode, {}).get(fig.key, {}).get(system)
                if cell and "na" in cell:
                    continue
                if not cell or not cell.get("rounds"):
                    why = "; ".join(cell.get("errors", [])) if cell else "not measured"
                    out.append((mode, fig.key, system, why or "not measured"))
    return out


def _ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def table(results, modes, figs, systems, peers, rows_for):
    """Markdown: one row per (figure, mode), systems as columns, plus tng/peer ratio columns.

    Ratios are tng / peer for every row; for "lower is better" rows (CPU, latency, memory) a
    ratio under 1 favours tng. The best peer is chosen per row in the row's own direction.
    """
    header = ["figure", "unit"] + list(systems)
    with_ratios = "tng" in systems
    if with_ratios:
        header += ["tng / best peer", "tng / stunnel"]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|"]
    for fig in figs:
        for mode in modes:
            if not rows_for(fig, mode):
                continue
            arrow = "↑" if fig.better == "higher" else "↓"
            cells = [f"{fig.label} [{mode}]", f"{fig.unit} ({arrow})"]
            for s in systems:
                cell = results.get(mode, {}).get(fig.key, {}).get(s)
                v = value(results, mode, fig.key, s)
                if v is not None:
                    cells.append(fig.fmt.format(v))
                elif cell and "na" in cell:
                    cells.append("–")
                elif cell and cell.get("errors"):
                    cells.append("failed")
                else:
                    cells.append("")
            if with_ratios:
                tng = value(results, mode, fig.key, "tng")
                peer_vals = [(value(results, mode, fig.key, p), p) for p in peers if p in systems]
                peer_vals = [(v, p) for v, p in peer_vals if v is not None]
                best = None
                if peer_vals:
                    pick = max if fig.better == "higher" else min
                    best = pick(peer_vals, key=lambda vp: vp[0])
                r_best = _ratio(tng, best[0]) if best else None
                r_st = _ratio(tng, value(results, mode, fig.key, "stunnel"))
                cells.append(f"{r_best:.2f} ({best[1]})" if r_best is not None else "–")
                cells.append(f"{r_st:.2f}" if r_st is not None else "–")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
