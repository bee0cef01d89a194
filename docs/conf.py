"""Sphinx configuration of the fastgd documentation site.

Build it from the repository root with::

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

Everything on the site is generated from the checkout at build time: the API reference
from the docstrings (numpydoc), the tutorial gallery by running ``docs/examples/plot_*.py``
(sphinx-gallery), the option tables of the mathematical contract from the registry
:mod:`fastgd.options`, the command-line pages from ``fastgd``'s own argument parser and
the benchmark pages from the committed ``reports/*.md`` (copied into ``docs/reports/``,
which git ignores, and read by myst-parser). The build needs no network.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
if (ROOT / "fastgd" / "__init__.py").is_file():
    sys.path.insert(0, str(ROOT))  # document the checkout next to these sources

import fastgd  # noqa: E402

project = "fastgd"
author = "the fastgd developers"
copyright = "the fastgd developers, BSD-3-Clause"  # noqa: A001 - Sphinx's name
release = fastgd.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "fastgd_sphinx",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "examples"]
templates_path: list[str] = []

# ---------------------------------------------------------------- cross-references
# Nitpicky mode (``-n``) reports every reference that does not resolve. The build runs
# offline (CI has no intersphinx inventories), so a reference to another project's
# class in a signature's type hints (``numpy.ndarray``, ``pathlib.Path``,
# ``collections.abc.Iterator``...) can never resolve; these patterns ignore exactly
# those, by the module they come from. Every reference to fastgd's own objects is still
# checked.
_EXTERNAL = (
    r"(np|numpy|scipy|sp|sklearn|matplotlib|pandas|pd|polars|pyarrow|numba|argparse"
    r"|pathlib|os|io|typing|collections|collections\.abc|dataclasses|threading|zipfile"
    r"|numbers|types|datetime)(\..+)?"
)
nitpick_ignore_regex = [
    ("py:class", _EXTERNAL),
    ("py:obj", _EXTERNAL),
    # builtins and typing names as they appear in annotations ("Path", "Any", ...)
    (
        "py:class",
        r"(Path|PathLike|Any|Callable|Iterable|Iterator|Mapping|Sequence|Axes|Figure"
        r"|ndarray|Generator|Namespace|TextIO|Literal|Self)",
    ),
]

# ---------------------------------------------------------------- autodoc / numpydoc
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    # scikit-learn's own methods, with scikit-learn's docstrings and cross-references
    "exclude-members": "set_fit_request, set_partial_fit_request, set_score_request, "
    "get_metadata_routing, score",
}
autodoc_typehints = "signature"
# show defaults as written (a dataclass's ``field(default_factory=dict)`` would otherwise
# appear as ``<factory>``, which breaks the parsing of the whole signature)
autodoc_preserve_defaults = True
autodoc_class_signature = "mixed"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# ---------------------------------------------------------------- myst (the reports)
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# ---------------------------------------------------------------- sphinx-gallery
sphinx_gallery_conf = {
    "examples_dirs": ["examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    # fastgd.plot draws pyplot-free Figure objects: fastgd_sphinx.figure_scraper finds
    # them in the example's variables (matplotlib's own scraper covers pyplot)
    "image_scrapers": ("matplotlib", "fastgd_sphinx.figure_scraper"),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "backreferences_dir": None,
    "abort_on_example_error": True,
}

# ---------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"fastgd {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path: list[str] = []
html_show_sourcelink = False
