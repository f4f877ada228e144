#!/usr/bin/env python3
"""Check notebooks written by salient with Jupyter's own tools.

    python scripts/check_notebooks.py [--execute NOTEBOOK]... NOTEBOOK...

Every NOTEBOOK (and every --execute one) is read and validated with `nbformat` (what
`python -m nbformat.validate` does: the nbformat v4 schema, plus nbformat's own checks such as
unique cell ids), and every code cell must parse as Python. Each --execute notebook is then run
with `nbclient` (a `python3` kernel from ipykernel), from its own directory, as Jupyter would:
the redraw cells must reload the CSV files and draw without an error, and every figure cell
must show the same SVG as the one stored in the notebook (compared as canonical XML).

Needs nbformat, nbclient, ipykernel, pandas and matplotlib (`.ci/run` installs them into
target/py). Exits non-zero on the first problem.
"""

import argparse
import ast
import os
import sys
import xml.etree.ElementTree as ET

import nbformat
from nbclient import NotebookClient


def svgs(notebook):
    """The SVG outputs of a notebook's code cells, in order."""
    out = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            svg = output.get("data", {}).get("image/svg+xml")
            if svg is not None:
                out.append(svg if isinstance(svg, str) else "".join(svg))
    return out


def canonical(svg):
    """An SVG as canonical XML (C14N 2.0), so that two serialisations of one drawing compare equal."""
    return ET.canonicalize(svg, strip_text=True)


def check(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            ast.parse(cell.source, filename=f"{path} cell {cell.id}")
    return notebook


def execute(path):
    notebook = check(path)
    stored = svgs(notebook)
    # Figures drawn as Jupyter draws them: inline, as PNG outputs.
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    client.execute()
    nbformat.validate(notebook)
    shown = svgs(notebook)
    # IPython's SVG() re-serialises the file (attribute order, declarations): compare canonical XML.
    if [canonical(s) for s in shown] != [canonical(s) for s in stored]:
        raise SystemExit(f"{path}: running the figure cells shows other SVGs than the notebook stores")
    drawn = sum(
        1
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    )
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        raise SystemExit(f"{path}: a cell failed: {errors[0].get('ename')}: {errors[0].get('evalue')}")
    return len(stored), drawn


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="append", default=[], metavar="NOTEBOOK")
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args()
    for path in args.notebooks:
        check(path)
        print(f"check_notebooks: {path}: valid (nbformat {nbformat.__version__})")
    for path in args.execute:
        figures, drawn = execute(path)
        print(f"check_notebooks: {path}: ran every cell; {figures} stored figure(s) shown again, {drawn} redrawn")
        if drawn == 0:
            raise SystemExit(f"{path}: no redraw cell drew a figure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
