"""Reading the result lines run.sh and scaling.sh collect, for their tables.

Each line is `KEY... PEER VALUE UNIT`, where VALUE is a number, `fail`
(a run that failed) or `na` (a peer that could not run; UNIT is then the
reason).
"""
import statistics


def load(path, keys, key=tuple):
    """Returns (rows, units): rows maps key(first `keys` fields) -> peer ->
    {"vals": [...], "fails": n, "na": reason}, keys and peers in the order
    they first appear (the peers' alternation order); units maps a
    workload (the first field) to its unit."""
    rows, units = {}, {}
    for line in open(path):
        fields = (line.rstrip("\n").split(" ", keys + 2) + [""])[: keys + 3]
        head, (peer, value, rest) = fields[:keys], fields[keys:]
        cell = rows.setdefault(key(head), {}).setdefault(
            peer, {"vals": [], "fails": 0, "na": None})
        if value == "na":
            cell["na"] = rest
        elif value == "fail":
            cell["fails"] += 1
        else:
            cell["vals"].append(float(value))
            units[head[0]] = rest
    return rows, units


def median(cell):
    """The median of a cell's values, or None."""
    vals = (cell or {}).get("vals", [])
    return statistics.median(vals) if vals else None


def fmt(v):
    """A figure with a sensible number of digits."""
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.1f}" if abs(v) >= 100 else f"{v:.2f}"
