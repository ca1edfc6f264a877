#!/usr/bin/env python3
"""Replaces the generated block NAME of a Markdown file with standard input: the lines between
`<!-- table:NAME -->` and the next `<!-- /table -->` (both markers stay). The file is rewritten
through a temporary file and a rename. Usage: ... | scripts/replace_block.py FILE NAME"""
import os
import sys


def main():
    path, name = sys.argv[1], sys.argv[2]
    begin, end = f"<!-- table:{name} -->", "<!-- /table -->"
    with open(path) as f:
        text = f.read()
    start = text.find(begin)
    if start < 0:
        sys.exit(f"replace_block: {path} has no '{begin}' marker")
    stop = text.find(end, start)
    if stop < 0:
        sys.exit(f"replace_block: {path}: no '{end}' after '{begin}'")
    body = sys.stdin.read().strip("\n")
    text = text[:start + len(begin)] + "\n" + body + "\n" + text[stop:]
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
