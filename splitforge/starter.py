"""The recipe ``splitforge init`` writes: the commented starter, or one for a formatting.

``starter_recipe()`` is the packaged ``starter_recipe.yaml``. With a formatting (or a
LLaMA-Factory ``dataset_info.json`` entry) its ``sources`` and ``fields`` are replaced by a
source read by that formatting, and the splits are also written as a JSON array, the file type
LLaMA-Factory reads; everything else stays as in the starter.
"""

from __future__ import annotations

import json
from importlib import resources

from splitforge.load.formats import DEFAULT_COLUMNS

_SOURCES_START = "sources:"
_FIELDS_END = "dedup:"


def starter_recipe(formatting: str | None = None, source: str | None = None,
                   dataset_info: str | None = None, dataset: str | None = None) -> str:
    """The text of a starter recipe; with ``formatting`` or ``dataset_info``, one for it."""
    text = resources.files("splitforge").joinpath("starter_recipe.yaml").read_text("utf-8")
    if formatting is None and dataset_info is None:
        if source is not None:
            text = text.replace("path: data/tickets.jsonl", f"path: {json.dumps(source)}")
        return text
    start, end = text.index(_SOURCES_START), text.index(_FIELDS_END)
    text = text[:start] + _formatted_block(formatting, source, dataset_info, dataset) + \
        text[end:]
    return text.replace("formats: [parquet]          # add jsonl for JSON Lines copies",
                        "formats: [parquet, json]    # json: JSON arrays, as LLaMA-Factory reads")


def _formatted_block(formatting: str | None, source: str | None, dataset_info: str | None,
                     dataset: str | None) -> str:
    if dataset_info is not None:
        lines = ["sources:                      # an entry of LLaMA-Factory's dataset_info.json",
                 f"  - dataset_info: {json.dumps(dataset_info)}",
                 f"    dataset: {json.dumps(dataset or 'NAME')}",
                 "    # formatting, columns, tags and ranking come from the entry"]
    else:
        assert formatting is not None
        columns = ", ".join(f"{role}: {column}" for role, column in
                            DEFAULT_COLUMNS[formatting].items())
        lines = ["sources:",
                 f"  - path: {json.dumps(source or 'data/train.json')}",
                 f"    formatting: {formatting:<16}# alpaca | sharegpt | openai | preference | "
                 f"kto | text",
                 f"    # columns: {{{columns}}}   # this file's column per role, if other",
                 "    # ranking: true             # alpaca/sharegpt preference data "
                 "(chosen/rejected)"]
        if formatting in ("sharegpt", "openai"):
            lines.append("    # tags: {role_tag: from, content_tag: value, user_tag: human, "
                         "assistant_tag: gpt}")
        if source is None or source.endswith(".txt"):
            lines.append("    # text_unit: line           # .txt: line | paragraph")
    lines += ["",
              "fields:                       # the formatting maps the text; these are optional",
              "  # id: id                    # without it, a stable content hash of the record",
              "  # roles: [user, assistant]  # turns compared (default: all but system)",
              "  # time: created_at          # for split.method: temporal",
              "  # group: user_id            # preference rows are grouped by prompt already",
              "  {}", "", ""]
    return "\n".join(lines)
