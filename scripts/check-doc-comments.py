#!/usr/bin/env python3
"""List public declarations in Sources/ that have no doc comment.

Why: the project's standard is that each public type and function says what it
is for; this check keeps that true as code lands.  It reads Swift sources
textually (no compiler needed, so it runs in well under a second) and reports
`file:line: kind name` for every `public`/`open` type, function or subscript
whose preceding lines (past attributes such as `@inlinable`) are not a `///`
or `/** */` comment.  Exit status 1 when anything is missing.

Not reported: a function that implements a requirement of one of our own
protocols or a standard-library one (`==`, `hash(into:)`, ...): it shows the
protocol's documentation.  Initializers are listed only with `--inits` (most
are memberwise and the type's comment covers them).

Usage: scripts/check-doc-comments.py [--types-only] [--inits] [DIR ...]   (default: Sources)
"""
import os
import re
import sys

DECL = re.compile(
    r'^\s*(?:@[\w.]+(?:\([^)]*\))?\s+)*'          # attributes on the same line
    r'(?:(?:public|open|final|static|class|nonisolated|mutating|nonmutating|'
    r'override|convenience|required|indirect|borrowing|consuming|'
    r'private\(set\)|fileprivate\(set\)|internal\(set\))\s+)*'
    r'(struct|class|enum|protocol|actor|typealias|func|init|subscript)\b[\s?!]*'
    r'([A-Za-z_][\w]*|[^\s(<]*)?')
TYPE_KINDS = {"struct", "class", "enum", "protocol", "actor", "typealias"}


# Standard-library protocol witnesses: documented by the protocol itself.
STDLIB_WITNESSES = {"==", "<", "hash", "encode", "makeIterator", "next",
                    "write", "callAsFunction", "makeAsyncIterator"}


def protocol_requirements(paths):
    """Names of the functions that this code base's protocols declare.

    A type's implementation of a requirement takes its documentation from
    the protocol (as DocC and Xcode show it), so it needs no comment of its
    own; the requirement itself is checked like any other declaration."""
    names = set()
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        depth = None
        for line in lines:
            if depth is None:
                if re.match(r'^\s*(public\s+)?protocol\s+\w+', line):
                    depth = line.count("{") - line.count("}")
                    if depth <= 0 and "{" in line:
                        depth = None
                continue
            m = re.match(r'^\s*(?:mutating\s+|static\s+)*func\s+([^\s(<]+)', line)
            if m:
                names.add(m.group(1))
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                depth = None
    return names


def documented(lines, i):
    """True if the declaration at lines[i] has a doc comment above it."""
    j = i - 1
    while j >= 0:
        s = lines[j].strip()
        if s.startswith("@"):          # attribute on its own line
            j -= 1
            continue
        if s.startswith("#if") or s.startswith("#else") or s.startswith("#endif"):
            j -= 1
            continue
        return s.startswith("///") or s.endswith("*/") or s.startswith("/**")
    return False


def scan(path, types_only, inits, witnesses):
    missing = []
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    in_block = False
    for i, line in enumerate(lines):
        s = line.strip()
        if in_block:
            if "*/" in s:
                in_block = False
            continue
        if s.startswith("/*") and "*/" not in s:
            in_block = True
            continue
        if s.startswith("//"):
            continue
        m = DECL.match(line)
        if not m:
            continue
        head = line.split("{")[0].split("//")[0]
        if not re.search(r'(^|\s)(public|open)\s', head + " "):
            continue
        kind, name = m.group(1), (m.group(2) or "")
        if types_only and kind not in TYPE_KINDS:
            continue
        if kind == "init" and not inits:
            continue
        if kind == "func" and name in witnesses:
            continue
        if not documented(lines, i):
            missing.append(f"{path}:{i + 1}: {kind} {name}".rstrip())
    return missing


def main(argv):
    types_only = "--types-only" in argv
    inits = "--inits" in argv
    roots = [a for a in argv if not a.startswith("--")] or ["Sources"]
    paths = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            paths += [os.path.join(dirpath, n) for n in sorted(filenames) if n.endswith(".swift")]
    witnesses = protocol_requirements(paths) | STDLIB_WITNESSES
    missing = []
    for path in paths:
        missing += scan(path, types_only, inits, witnesses)
    for m in missing:
        print(m)
    if missing:
        print(f"{len(missing)} public declaration(s) without a doc comment", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
