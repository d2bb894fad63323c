"""The HTML pages of ``results`` as Jinja2 templates, and the environment that renders them.

Every value is escaped (``autoescape=True``): scenario names, hosts, log lines and
gate files come from run folders that anyone can write. A name the page uses
but was not given is an error (``StrictUndefined``), never an empty cell.
"""

from __future__ import annotations

import functools

from jinja2 import Environment, PackageLoader, StrictUndefined


@functools.cache
def environment() -> Environment:
    """The one Jinja2 environment of the results pages, loading from this folder."""
    return Environment(
        loader=PackageLoader("results", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(name: str, **context: object) -> str:
    """Render the template ``name`` (e.g. ``report.html.j2``) with ``context``."""
    return environment().get_template(name).render(**context)
