r"""Text templates over input fields: ``"{question}\n{answer}"``, one module for every reader.

A template names fields in braces; a value without braces is one field name. ``{name?}`` is an
optional field: where it is null, or not in the data at all, it reads as empty text. A dotted
name (``{metadata.title}``) reads a field nested in an object. The recipe checks a
template (``template_fields``), the loader and the audit's training scan render it
(``render_template``), and the command line reads its ``\n`` and ``\t`` as a double-quoted YAML
string does (``read_escapes``), so one template means the same everywhere.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_ESCAPES = re.compile(r"\\([\\nt])")


OPTIONAL = "?"


def required_fields(template: str) -> list[str]:
    """The fields of a template that every row must hold (not marked ``?``)."""
    return [n for n in template_fields(template) if n not in optional_fields(template)]


def optional_fields(template: str) -> set[str]:
    """The fields of a template marked optional: ``{system?}``."""
    if "{" not in template and "}" not in template:
        return set()
    return {name[:-1] for _, name, _, _ in string.Formatter().parse(template)
            if name and name.endswith(OPTIONAL)}


def template_fields(template: str) -> list[str]:
    r"""Field names of a text template: ``"{question}\n{answer}"`` -> ``["question", "answer"]``.

    A value without braces is one field name; an optional field is named without its ``?``.

    Raises:
        ValueError: A field with a format spec or conversion (``{a:>3}``, ``{a!r}``) or an
            empty ``{}``.
    """
    if "{" not in template and "}" not in template:
        return [template]
    names = []
    for _literal, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name or spec or conversion:
            raise ValueError(
                f"template fields are plain names such as {{question}}, got {{{name}"
                f"{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
            )
        names.append(name.removesuffix(OPTIONAL))
    return names


def render_template(template: str, column: Callable[[str], Any]) -> Any:
    """Each row's text from a template over fields, or one field; ``column(name)`` is its text.

    A row where a field is null gets null (use ``fill_null`` in ``column`` to read it as empty);
    an optional field reads as empty where it is null, and everywhere when ``column`` raises
    ``KeyError`` (the field is not in the data).
    """
    if template_fields(template) == [template]:
        return column(template)
    parts: list[Any] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append(pa.scalar(literal, pa.string()))
        if name is not None and name.endswith(OPTIONAL):
            try:
                parts.append(pc.fill_null(column(name.removesuffix(OPTIONAL)), ""))
            except KeyError:
                parts.append(pa.scalar("", pa.string()))
        elif name is not None:
            parts.append(column(name))
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "")


def read_escapes(value: str | None) -> str | None:
    r"""A template given on the command line, with ``\n``, ``\t`` and ``\\`` read.

    A shell passes ``'{question}\n{answer}'`` as a backslash and an ``n``; a recipe's
    double-quoted YAML reads it as a newline, and so does the command line.
    """
    if value is None:
        return None
    return _ESCAPES.sub(lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m.group(1)], value)
