#!/usr/bin/env python3
"""Checks that imports among weft's top-level modules run downward.

Every `crate::` and `super::` path in src/ (code only: comments, strings,
`#[cfg(test)]` modules and `$crate` macro paths are left out) is an edge
from the top-level module of the file it is in to the top-level module it
names. `LAYERS` lists the modules from the top down (ARCHITECTURE.md,
"Layers"); a module may use modules of its own layer or below, never above,
and the modules of one layer must not use each other in a circle. A name
defined at the crate root (`crate::go`) counts as the top layer.

`KNOWN` lists the upward edges that remain, each with the reason it is
still there. The check fails on any upward edge not listed, on a circle,
and on a listed edge that no longer exists (so the list only shrinks).

Run from the repository root: `python3 .ci/layers.py` (`-v` lists every
edge with the files that make it).
"""

import collections
import os
import re
import sys

# Top to bottom. A module not listed here fails the check.
LAYERS = [
    ["hook"],
    ["io", "sync", "channel", "time", "coroutine"],
    ["runtime"],
    ["task"],
    ["stack"],
    ["sys", "loom", "batches"],
]

# Upward edges still to remove: (from, to): reason.
KNOWN = {}

# Files of a folder that still import each other in a circle:
# folder: (files, reason). The check fails on a circle with a file not
# listed, and on a listed file that is no longer on one.
KNOWN_CIRCLES = {}

ROOT = "src"

# `#[cfg(test)] mod name`, `#[cfg(all(test, ...))] mod name`, ...
TEST_MOD = r"#\[cfg\([^\]]*\btest\b[^\]]*\)\]\s*(?:pub(?:\(\w+\))?\s+)?mod\s+(\w+)\s*"


def strip(text):
    """Code only: no comments, no string contents, no test modules."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    # A `#[cfg(test)]` module runs above everything; it ends the file by
    # convention (a test module in a file of its own is skipped whole).
    m = re.search(TEST_MOD + r"\{", text)
    if m:
        text = text[: m.start()]
    return text


def test_only_files():
    """Files of modules declared `#[cfg(test)] mod name;`."""
    out = set()
    for d, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(d, f)
            text = open(path).read()
            here = d if f in ("mod.rs", "lib.rs") else os.path.join(d, f[:-3])
            for m in re.finditer(TEST_MOD + ";", text):
                out.add(os.path.join(here, m.group(1) + ".rs"))
                out.add(os.path.join(here, m.group(1), "mod.rs"))
    return out


def module_path(path):
    parts = os.path.relpath(path, ROOT)[:-3].split("/")
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return parts


def paths(text):
    """(kind, levels up, first name) for every crate:: / super:: path."""
    for m in re.finditer(r"(?<![$\w])(crate|super)((?:::super)*)::", text):
        kind = m.group(1)
        ups = m.group(2).count("super") + (kind == "super")
        i = m.end()
        if text[i] == "{":
            depth, j, item, items = 0, i, "", []
            while j < len(text):
                c = text[j]
                if c == "{":
                    depth += 1
                    if depth == 1:
                        j += 1
                        continue
                elif c == "}":
                    depth -= 1
                    if depth == 0:
                        items.append(item)
                        break
                elif c == "," and depth == 1:
                    items.append(item)
                    item = ""
                    j += 1
                    continue
                item += c
                j += 1
            for it in items:
                name = re.match(r"\s*(\w+)", it)
                if name:
                    yield kind, ups, name.group(1)
        else:
            name = re.match(r"(\w+)", text[i:])
            if name:
                yield kind, ups, name.group(1)


def main():
    verbose = "-v" in sys.argv
    layer_of = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    modules = {
        f[:-3] if f.endswith(".rs") else f
        for f in os.listdir(ROOT)
        if f != "lib.rs" and (f.endswith(".rs") or os.path.isdir(os.path.join(ROOT, f)))
    }
    errors = []
    for m in sorted(modules - set(layer_of)):
        errors.append(f"src/{m}: not in any layer of .ci/layers.py")
    skip = test_only_files()
    # `#[macro_export]` puts a macro at the crate root whatever module
    # defines it: a path to it names its defining module.
    macros = {}
    for d, _, files in os.walk(ROOT):
        for f in files:
            path = os.path.join(d, f)
            if f.endswith(".rs") and module_path(path):
                for m in re.finditer(r"#\[macro_export\]\s*macro_rules!\s*(\w+)", open(path).read()):
                    macros[m.group(1)] = module_path(path)[0]
    edges = collections.defaultdict(set)
    for d, _, files in os.walk(ROOT):
        for f in files:
            path = os.path.join(d, f)
            if not f.endswith(".rs") or path in skip:
                continue
            mp = module_path(path)
            if not mp:
                continue  # lib.rs: the facade, above every layer
            is_mod = f == "mod.rs"
            for kind, ups, name in paths(strip(open(path).read())):
                if kind == "crate":
                    full = [name]
                else:
                    base = mp if is_mod else mp[:-1]
                    base = base[: len(base) - (ups - 1)] if ups > 1 else base
                    full = base + [name]
                to = full[0] if full[0] in modules else macros.get(full[0], "(crate root)")
                if to != mp[0]:
                    edges[(mp[0], to)].add(os.path.relpath(path))
    top = -1
    upward = set()
    for (a, b), files in sorted(edges.items()):
        la, lb = layer_of.get(a, 0), layer_of.get(b, top)
        if verbose:
            print(f"{a} -> {b}: {', '.join(sorted(files))}")
        if lb < la:
            upward.add((a, b))
            if (a, b) not in KNOWN:
                errors.append(f"{a} -> {b} runs upward ({', '.join(sorted(files))})")
    for (a, b), why in sorted(KNOWN.items()):
        if (a, b) not in upward:
            errors.append(f"{a} -> {b} is listed in KNOWN but no longer exists: remove it")
    # Circles within a layer.
    graph = collections.defaultdict(set)
    for a, b in edges:
        if (a, b) not in upward:
            graph[a].add(b)
    state = {}

    def visit(v, stack):
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                errors.append("circle: " + " -> ".join(stack[stack.index(w):] + [w]))
            elif w not in state:
                visit(w, stack)
        stack.pop()
        state[v] = 2

    for v in sorted(graph):
        if v not in state:
            visit(v, [])
    errors += file_circles()
    for e in errors:
        print("layers:", e)
    if not errors:
        print(f"layers: ok ({len(edges)} edges, {len(KNOWN)} known upward)")
    return 1 if errors else 0


def reexports(folder):
    """Names that `folder/mod.rs` re-exports, mapped to the file defining them."""
    out = {}
    mod = os.path.join(folder, "mod.rs")
    if not os.path.exists(mod):
        return out
    text = strip(open(mod).read())
    for m in re.finditer(r"\bpub(?:\([\w ]+\))?\s+use\s+(\w+)::(\{[^}]*\}|\w+)", text):
        names = re.findall(r"(\w+)(?:\s+as\s+(\w+))?", m.group(2).strip("{}"))
        for name, alias in names:
            out[alias or name] = m.group(1)
    return out


def file_circles():
    """Circles among the files of each folder of src/ (mod.rs, which only
    wires, left out; a name it re-exports counts as its defining file; a
    file in a subfolder counts as the subfolder)."""
    errors = []
    for d, _, _ in os.walk(ROOT):
        if d == ROOT:
            continue
        entries = os.listdir(d)
        siblings = {f[:-3] for f in entries if f.endswith(".rs") and f != "mod.rs"}
        siblings |= {x for x in entries if os.path.isdir(os.path.join(d, x))}
        names = reexports(d)
        module = os.path.relpath(d, ROOT).replace("/", "::")
        graph = collections.defaultdict(set)
        # (node, path, how many `super`s lead from the file to this folder)
        sources = []
        for f in sorted(entries):
            path = os.path.join(d, f)
            if f.endswith(".rs") and f != "mod.rs":
                sources.append((f[:-3], path, 1))
            elif os.path.isdir(path):
                for sd, _, sfiles in os.walk(path):
                    for sf in sorted(sfiles):
                        if sf.endswith(".rs"):
                            depth = os.path.relpath(sd, d).count("/") + 1
                            sources.append((f, os.path.join(sd, sf), depth + (sf != "mod.rs")))
        for me, path, ups_here in sources:
            text = strip(open(path).read())
            targets = [n for k, ups, n in paths(text) if k == "super" and ups == ups_here]
            targets += re.findall(r"(?<![$\w])crate::" + module + r"::(\w+)", text)
            for name in targets:
                to = name if name in siblings else names.get(name)
                if to and to != me:
                    graph[me].add(to)
        rel = os.path.relpath(d, ROOT)
        allowed, _ = KNOWN_CIRCLES.get(rel, (set(), ""))
        on_circle = set()
        for scc in strongly_connected(graph):
            if len(scc) < 2:
                continue
            on_circle |= scc
            if not scc <= allowed:
                errors.append(
                    f"circle in src/{rel}/ among: {', '.join(sorted(scc))}"
                    + (f" (not listed: {', '.join(sorted(scc - allowed))})" if allowed else "")
                )
        for f in sorted(allowed - on_circle):
            errors.append(f"src/{rel}/{f}.rs is listed in KNOWN_CIRCLES but is on no circle: remove it")
    return errors


def strongly_connected(graph):
    """The strongly connected components of `graph` (Tarjan's algorithm)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = set()
            while True:
                w = stack.pop()
                on.discard(w)
                scc.add(w)
                if w == v:
                    break
            out.append(scc)

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
