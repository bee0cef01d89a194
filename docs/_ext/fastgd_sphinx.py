"""Sphinx extension of the fastgd documentation: pages generated from the checkout.

- ``.. fastgd-registry:: KIND`` renders a table of :mod:`fastgd.options` (``loss``,
  ``penalty``, ``optimizer``, ``schedule`` or ``hyper``): every row of the registry
  with its code, formula, hyperparameters, defaults and state rows, so the contract
  page cannot disagree with what the estimators validate and the kernels run.
- ``.. fastgd-cli-help::`` renders ``fastgd --help`` and the ``--help`` of every
  subcommand, taken from :func:`fastgd.cli.build_parser` at build time.
- On ``builder-inited`` the committed benchmark reports (``reports/*.md`` and their
  PNG figures) are copied into ``docs/reports/`` (ignored by git), where myst-parser
  reads them as pages of the site.
- :func:`figure_scraper` is a sphinx-gallery image scraper for the pyplot-free figures
  that :mod:`fastgd.plot` returns (and :mod:`fastgd.demo` collects).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
REPORTS = ROOT / "reports"
REPORTS_COPY = DOCS / "reports"


# ------------------------------------------------------------------ the registry
def _literal(text) -> str:
    text = str(text)
    return f"``{text}``" if text else ""


def _names(values) -> str:
    return ", ".join(_literal(v) for v in values)


def _list_table(header: list[str], rows: list[list[str]], widths: list[int]) -> list[str]:
    out = [
        ".. list-table::",
        "   :header-rows: 1",
        f"   :widths: {' '.join(str(w) for w in widths)}",
        "",
    ]
    for row in [header, *rows]:
        first = True
        for cell in row:
            lines = str(cell).splitlines() or [""]
            out.append(("   * - " if first else "     - ") + lines[0])
            out.extend("       " + line for line in lines[1:])
            first = False
    out.append("")
    return out


def registry_rst(kind: str) -> list[str]:
    """The reST table of one kind of option (or ``'hyper'``) from :mod:`fastgd.options`."""
    from fastgd import options

    if kind == "hyper":
        readers: dict[str, list[str]] = {}
        for table in options.KINDS.values():
            for opt in table.values():
                for h in opt.reads:
                    readers.setdefault(h, []).append(repr(opt.name))
        rows = []
        for slot, h in enumerate(options.HYPERS):
            default = "derived" if h.name in options.DERIVED else repr(h.default)
            rng = "" if h.kind == "bool" else h.interval
            rows.append(
                [
                    _literal(h.name),
                    str(slot),
                    h.kind,
                    _literal(default),
                    _literal(rng),
                    h.doc,
                    ", ".join(readers.get(h.name, [])),
                ]
            )
        for h in options.STATE_INIT:
            rows.append(
                [
                    _literal(h.name),
                    "state",
                    h.kind,
                    _literal(repr(h.default)),
                    _literal(h.interval),
                    h.doc,
                    "",
                ]
            )
        return _list_table(
            ["name", "hp slot", "kind", "default", "range", "meaning", "read by"],
            rows,
            [12, 5, 5, 8, 10, 40, 20],
        )
    table = options.KINDS[kind]
    rows = []
    for opt in table.values():
        row = [_literal(repr(opt.name)), str(opt.code)]
        if kind == "loss":
            row.append(opt.task)
        row.append(_literal(opt.formula))
        row.append(_names(opt.reads))
        if kind == "optimizer":
            row.append(", ".join(f"``{k}={v!r}``" for k, v in opt.defaults.items()))
            row.append(_names(opt.state))
        if kind == "schedule":
            row.append(_names(opt.requires))
        rows.append(row)
    header = ["name", "code"]
    widths = [14, 5]
    if kind == "loss":
        header.append("task")
        widths.append(10)
    header += ["formula", "reads"]
    widths += [50, 15]
    if kind == "optimizer":
        header += ["defaults", "state rows"]
        widths += [12, 15]
    if kind == "schedule":
        header.append("requires")
        widths.append(12)
    return _list_table(header, rows, widths)


class RegistryDirective(SphinxDirective):
    """``.. fastgd-registry:: loss|penalty|optimizer|schedule|hyper``."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        from fastgd import options

        kind = self.arguments[0]
        if kind != "hyper" and kind not in options.KINDS:
            raise self.error(
                f"fastgd-registry: unknown kind {kind!r}; choose from "
                + ", ".join([*options.KINDS, "hyper"])
            )
        self.env.note_dependency(options.__file__)
        return self.parse_text_to_nodes("\n".join(registry_rst(kind)))


# ------------------------------------------------------------------ docstrings, again
class DocstringDirective(SphinxDirective):
    """``.. fastgd-docstring:: fastgd.reference.optimizer_step``.

    A function's docstring (through numpydoc) under a heading that links to its entry in
    the API reference. Unlike a second ``autofunction`` with ``:no-index:``, it adds no
    object description, so the source pages of ``sphinx.ext.viewcode`` keep linking to
    the API reference.
    """

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        import importlib
        import inspect

        from numpydoc.docscrape_sphinx import get_doc_object

        path = self.arguments[0]
        module_name, _, attr = path.rpartition(".")
        obj = getattr(importlib.import_module(module_name), attr)
        self.env.note_dependency(inspect.getsourcefile(obj))
        doc = str(get_doc_object(obj, what="function", config={"show_class_members": False}))
        # get_doc_object starts with the signature line; the heading names the function
        body = [line for line in doc.splitlines() if not line.startswith(f"{attr}(")]
        text = [f".. rubric:: :func:`{path}`", "", *body]
        return self.parse_text_to_nodes("\n".join(text))


# ------------------------------------------------------------------ command line
def _help(parser, argv: list[str]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        parser.parse_args([*argv, "--help"])
    return buf.getvalue().rstrip()


def cli_help() -> list[tuple[str, str]]:
    """``[(command, help text)]``: ``fastgd --help`` and each subcommand's ``--help``."""
    import argparse

    from fastgd import cli

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "96"  # argparse wraps to the terminal: fix the width
    try:
        parser = cli.build_parser()
        out = [("fastgd", _help(parser, []))]
        for action in parser._actions:  # argparse keeps the subcommands here
            if isinstance(action, argparse._SubParsersAction):
                for name in action.choices:
                    out.append((f"fastgd {name}", _help(parser, [name])))
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return out


class CliHelpDirective(SphinxDirective):
    """``.. fastgd-cli-help::``: a section per command with its ``--help`` output."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from fastgd import cli

        self.env.note_dependency(cli.__file__)
        lines = []
        for command, text in cli_help():
            title = f"``{command}``"
            lines += [title, "-" * len(title), "", ".. code-block:: text", ""]
            lines += [("   " + line).rstrip() for line in text.splitlines()]
            lines.append("")
        return self.parse_text_to_nodes("\n".join(lines), allow_section_headings=True)


# ------------------------------------------------------------------ the reports
def copy_reports(app: Sphinx) -> None:
    """Copy ``reports/*.md`` and ``reports/*.png`` into ``docs/reports/`` (changed files only)."""
    if not REPORTS.is_dir():
        return
    REPORTS_COPY.mkdir(exist_ok=True)
    wanted = {p.name: p for p in sorted(REPORTS.iterdir()) if p.suffix in (".md", ".png")}
    for stale in REPORTS_COPY.iterdir():
        if stale.name not in wanted and stale.is_file():
            stale.unlink()
    for name, src in wanted.items():
        dst = REPORTS_COPY / name
        if not dst.is_file() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)


# ------------------------------------------------------------------ gallery figures
def _figures(value, depth: int = 0):
    from matplotlib.figure import Figure

    if isinstance(value, Figure):
        yield value
    elif depth < 3:
        if isinstance(value, dict):
            for v in value.values():
                yield from _figures(v, depth + 1)
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from _figures(v, depth + 1)
        elif hasattr(value, "figures") and isinstance(value.figures, dict):
            yield from _figures(value.figures, depth + 1)


def figure_scraper(block, block_vars, gallery_conf, **kwargs) -> str:
    """Save the matplotlib figures a gallery block created without pyplot.

    Looks through the example's variables (figures, dicts and lists of them, and objects
    with a ``figures`` dict such as :class:`fastgd.demo.ExampleResult`) for figures not
    shown yet, in the order the variables were defined.
    """
    from sphinx_gallery.scrapers import figure_rst

    seen = block_vars.setdefault("fastgd_seen_figures", [])  # kept alive: ids stay unique
    paths = []
    for value in list(block_vars["example_globals"].values()):
        for fig in _figures(value):
            if any(fig is old for old in seen):
                continue
            seen.append(fig)
            path = next(block_vars["image_path_iterator"])
            fig.savefig(path, dpi=96)
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


def dataclass_factories(app, what, name, obj, options, signature, return_annotation):
    """Write a dataclass field's ``default_factory`` as ``field(default_factory=...)``.

    ``inspect.signature`` shows such a default as ``<factory>``, which is no Python
    expression: Sphinx then cannot parse the signature and splits it at every comma
    (``tuple[str, ...]`` becomes two broken type references under ``-n``).
    """
    import dataclasses

    if what != "class" or not signature or "<factory>" not in signature:
        return None
    if not dataclasses.is_dataclass(obj):
        return None
    for f in dataclasses.fields(obj):
        if f.default_factory is not dataclasses.MISSING:
            factory = getattr(f.default_factory, "__name__", "...")
            signature = re.sub(
                rf"(\b{f.name}: [^=]*= )<factory>",
                rf"\g<1>field(default_factory={factory})",
                signature,
            )
    return signature, return_annotation


def setup(app: Sphinx) -> dict:
    app.connect("autodoc-process-signature", dataclass_factories)
    app.add_directive("fastgd-registry", RegistryDirective)
    app.add_directive("fastgd-cli-help", CliHelpDirective)
    app.add_directive("fastgd-docstring", DocstringDirective)
    app.connect("builder-inited", copy_reports)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
