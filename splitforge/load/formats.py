"""The data layouts of fine-tuning frameworks: what a row's text, identity and group are.

A source with ``formatting`` (alpaca, sharegpt, openai, preference, kto, text) is read as
LLaMA-Factory, TRL and Axolotl read it. The **similarity text** that dedup, leak links and the
audit compare is the row's user and assistant turns as ``role: content`` lines (the system prompt
left out unless ``fields.roles`` names it; content lists flattened to their text parts), with a
preference row's answers as ``chosen:`` and ``rejected:`` lines. The **identity** is everything
else the trainer reads (tools, media paths, a system prompt, a KTO label): exact dedup removes a
row only when that is equal too. Preference and KTO rows are **grouped by prompt**, so the pairs
of one prompt never straddle two splits.

``dataset_info_entry`` reads an entry of LLaMA-Factory's ``dataset_info.json`` into these keys.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge.load.fields import (
    ROLE_ALIASES,
    SYSTEM_ROLE,
    as_text,
    flatten_messages,
    is_chat,
    parse_messages,
    to_json,
)
from splitforge.normalize.shingles import text_buffers
from splitforge.normalize.text import _buffer_hashes, normalize_buffers

# Default column of each role, per formatting (LLaMA-Factory's DatasetAttr defaults; TRL's names).
DEFAULT_COLUMNS: dict[str, dict[str, str]] = {
    "alpaca": {"prompt": "instruction", "query": "input", "response": "output"},
    "sharegpt": {"messages": "conversations"},
    "openai": {"messages": "messages"},
    "preference": {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected"},
    "kto": {"prompt": "prompt", "completion": "completion", "label": "label"},
    "text": {"prompt": "text"},
}
# Columns of these roles are used when the data has them, without being named in ``columns``.
OPTIONAL_ROLES = {"system": "system", "tools": "tools", "images": "images", "videos": "videos",
                  "audios": "audios", "history": "history"}
DEFAULT_TAGS = {
    "sharegpt": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                 "assistant_tag": "gpt", "observation_tag": "observation",
                 "function_tag": "function_call", "system_tag": "system"},
    "openai": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
               "assistant_tag": "assistant", "observation_tag": "tool",
               "function_tag": "function_call", "system_tag": "system"},
}
# What each tag's role is called in the similarity text.
_TAG_ROLES = {"user_tag": "user", "assistant_tag": "assistant", "observation_tag": "observation",
              "function_tag": "function_call", "system_tag": "system"}
# Roles that hold the text (the rest are identity), per formatting.
_TEXT_ROLES = {"prompt", "query", "response", "history", "messages", "chosen", "rejected",
               "completion"}
# Fields outside the text that a trainer reads, for sources mapped with fields instead.
TRAINER_FIELDS = ("system", "tools", "images", "videos", "audios", "chosen", "rejected",
                  "history")
GROUP_PREFIX = "prompt:"


@dataclass(frozen=True)
class FormatSpec:
    """One source's formatting with every role resolved to a column of its data."""

    formatting: str
    columns: dict[str, str]  # role -> column, only roles the data has (or that are required)
    tags: dict[str, str]
    ranking: bool = False

    @property
    def required(self) -> list[str]:
        """The columns every row must hold (non-null)."""
        roles = {"alpaca": ["prompt", "response"], "sharegpt": ["messages"],
                 "openai": ["messages"], "preference": ["chosen", "rejected"],
                 "kto": ["prompt", "completion", "label"], "text": ["prompt"]}[self.formatting]
        if self.ranking:
            roles = [r for r in roles if r != "response"] + ["chosen", "rejected"]
        if self.formatting in ("sharegpt", "openai") and "kto_tag" in self.columns:
            roles = [*roles, "kto_tag"]
        return [self.columns[r] for r in roles]

    @property
    def identity(self) -> list[str]:
        """Columns outside the text that the trainer reads."""
        return [c for r, c in self.columns.items() if r not in _TEXT_ROLES]

    @property
    def grouped(self) -> bool:
        """Whether rows are grouped by prompt (preference and KTO data)."""
        return self.ranking or self.formatting in ("preference", "kto") or (
            "kto_tag" in self.columns)


def resolve_spec(formatting: str, columns: dict[str, str], tags: dict[str, str], ranking: bool,
                 present: list[str]) -> FormatSpec:
    """The roles of a formatting: given columns, then the defaults, then optional ones present."""
    resolved = dict(DEFAULT_COLUMNS[formatting])
    if ranking:
        resolved.pop("response", None)
        resolved.setdefault("chosen", "chosen")
        resolved.setdefault("rejected", "rejected")
    resolved.update(columns)
    taken = set(resolved.values())
    for role, name in OPTIONAL_ROLES.items():
        if role not in resolved and name in present and name not in taken:
            resolved[role] = name
    optional = {r for r in resolved if r not in columns} - {
        "prompt", "response", "messages", "chosen", "rejected", "completion", "label"}
    if formatting == "preference" and "prompt" not in columns:
        optional.add("prompt")  # TRL's implicit prompt: the turns chosen and rejected share
    resolved = {r: c for r, c in resolved.items() if c in present or r not in optional}
    if formatting == "alpaca" and "query" in resolved and resolved["query"] not in present:
        resolved.pop("query")  # input is optional in alpaca data
    all_tags = {**DEFAULT_TAGS.get(formatting, {}), **tags}
    return FormatSpec(formatting, resolved, all_tags, ranking)


# -- the similarity text -----------------------------------------------------------------------


def format_text(table: pa.Table, spec: FormatSpec, roles: list[str] | None) -> pa.ChunkedArray:
    """Each row's similarity text under its formatting (see the module docstring)."""
    cols = spec.columns
    parts: list[pa.ChunkedArray] = []
    with_system = roles is not None and any(
        ROLE_ALIASES.get(r.lower(), r.lower()) == SYSTEM_ROLE for r in roles)
    if with_system and "system" in cols:
        parts.append(_line("system", _text(table, cols["system"])))
    if spec.formatting == "text":
        return _text(table, cols["prompt"])
    if spec.formatting == "alpaca":
        if "history" in cols:
            parts.append(_history(table.column(cols["history"])))
        parts.append(_line("user", _alpaca_prompt(table, cols)))
        if not spec.ranking:
            parts.append(_line("assistant", _text(table, cols["response"])))
    elif spec.formatting in ("sharegpt", "openai"):
        parts.append(chat_text(table.column(cols["messages"]), spec.tags, roles,
                               cols["messages"]))
    elif spec.formatting == "preference":
        if "prompt" in cols:
            parts.append(_answer(table.column(cols["prompt"]), "user", spec.tags, roles))
    elif spec.formatting == "kto":
        parts.append(_answer(table.column(cols["prompt"]), "user", spec.tags, roles))
        parts.append(_answer(table.column(cols["completion"]), "assistant", spec.tags, roles))
    if spec.ranking or spec.formatting == "preference":
        parts.append(_answer(table.column(cols["chosen"]), "chosen", spec.tags, roles))
        parts.append(_answer(table.column(cols["rejected"]), "rejected", spec.tags, roles))
    return _join_lines(parts, table.num_rows)


def chat_text(column: pa.ChunkedArray, tags: dict[str, str], roles: list[str] | None,
              name: str, invert: bool = False) -> pa.ChunkedArray:
    """A chat column as ``role: content`` lines, its keys and role names read through ``tags``."""
    messages = parse_messages(standard_chat(column, tags), "", name)
    return flatten_messages(messages, roles, invert=invert)


def standard_chat(column: pa.ChunkedArray, tags: dict[str, str]) -> pa.ChunkedArray:
    """A chat column with its message keys renamed to role/content and its roles to ours."""
    role_tag, content_tag = tags.get("role_tag"), tags.get("content_tag")
    kind = column.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not pa.types.is_struct(
            kind.value_type):
        return column
    keys = [f.name for f in kind.value_type]
    renames = {k: v for k, v in ((role_tag, "role"), (content_tag, "content")) if k in keys}
    if not any(renames[k] != k for k in renames) and not _custom_roles(tags):
        return column
    taken = set(renames.values())  # a key the tags rename onto is shadowed by the tagged one
    chunks = []
    for chunk in column.chunks:
        flat = pc.list_flatten(chunk)
        fields, names = [], []
        for key in keys:
            new = renames.get(key, key)
            if key not in renames and key in taken:
                continue
            values = pc.struct_field(flat, key)
            if new == "role":
                values = _rename_roles(values, tags)
            fields.append(values)
            names.append(new)
        struct = pa.StructArray.from_arrays(fields, names=names)
        offsets = pc.subtract(chunk.offsets, chunk.offsets[0])
        cls = pa.LargeListArray if pa.types.is_large_list(kind) else pa.ListArray
        chunks.append(cls.from_arrays(offsets, struct, mask=chunk.is_null()))
    return pa.chunked_array(chunks)


def _custom_roles(tags: dict[str, str]) -> bool:
    return any(tags.get(t) not in (None, role, "human", "gpt") for t, role in _TAG_ROLES.items())


def _rename_roles(values: pa.Array, tags: dict[str, str]) -> pa.Array:
    mapping = {tags[t]: role for t, role in _TAG_ROLES.items() if t in tags}
    text = as_text(pa.chunked_array([values])).to_numpy(zero_copy_only=False)
    out = [mapping.get(v, v) if v is not None else None for v in text]
    return pa.array(out, pa.string())


def _answer(column: pa.ChunkedArray, role: str, tags: dict[str, str], roles: list[str] | None
            ) -> pa.ChunkedArray:
    """A prompt or answer field: a string, one message, or a list of messages."""
    kind = column.type
    if pa.types.is_struct(kind):  # one message: {from, value} or {role, content}
        content_key = next((k for k in (tags.get("content_tag"), "content", "value")
                            if k and kind.get_field_index(k) >= 0), None)
        if content_key is None:
            return _line(role, as_text(column))
        return _line(role, as_text(pa.chunked_array(
            [pc.struct_field(c, content_key) for c in column.chunks])).fill_null(""))
    if is_chat(standard_chat(column, tags).type):
        return chat_text(column, tags, roles, role)
    return _line(role, as_text(column).fill_null(""))


def _history(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Alpaca ``history``: a list of [query, response] pairs, as user and assistant lines."""
    out = []
    for value in column.to_pylist():
        lines = []
        for pair in value or []:
            if isinstance(pair, list | tuple) and len(pair) == 2:
                lines += [f"user: {pair[0]}", f"assistant: {pair[1]}"]
        out.append("\n".join(lines))
    return pa.chunked_array([pa.array(out, pa.string())])


def _alpaca_prompt(table: pa.Table, cols: dict[str, str]) -> pa.ChunkedArray:
    """Instruction, then the input on the next line when there is one."""
    prompt = _text(table, cols["prompt"])
    if "query" not in cols:
        return prompt
    return _join_lines([prompt, _text(table, cols["query"])], table.num_rows)


def _text(table: pa.Table, name: str) -> pa.ChunkedArray:
    return as_text(table.column(name)).fill_null("")


def _line(role: str, text: pa.ChunkedArray) -> pa.ChunkedArray:
    """``role: text``; an empty or blank text gives no line (so a row of nothing is empty)."""
    line = pc.binary_join_element_wise(pa.scalar(f"{role}: ", pa.string()), text, "")
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True)
    return pc.if_else(blank, pa.scalar("", pa.string()), line)


def _join_lines(parts: list[pa.ChunkedArray], n: int) -> pa.ChunkedArray:
    if not parts:
        return pa.chunked_array([pa.array([""] * n, pa.string())])
    if len(parts) == 1:
        return pa.chunked_array(parts[0].chunks if isinstance(parts[0], pa.ChunkedArray)
                                else [parts[0]])
    # An empty part (no history, a chat with nothing compared) adds no blank line. Not with
    # null_handling="skip": pyarrow 26 drops the rows whose parts are all null from the result.
    cleaned = [pc.if_else(pc.equal(p, ""), pa.scalar(_GONE, pa.string()), p) for p in parts]
    joined = pc.binary_join_element_wise(*cleaned, "\n", null_handling="replace",
                                         null_replacement=_GONE)
    joined = pc.replace_substring_regex(joined, f"{_GONE}\n|\n{_GONE}|{_GONE}", "")
    return joined if isinstance(joined, pa.ChunkedArray) else pa.chunked_array([joined])


_GONE = "\x00"  # stands for an empty part while the lines are joined


# -- identity and groups -----------------------------------------------------------------------


def identity_column(table: pa.Table, names: list[str], chat: str | None = None,
                    tags: dict[str, str] | None = None, roles: list[str] | None = None
                    ) -> pa.Array | None:
    """Per row, a 64-bit hash of what the trainer reads beyond the similarity text.

    ``names`` are whole fields (tools, media paths, a system prompt); ``chat`` is a chat column
    whose turns not compared (the system prompt) and non-text content parts (media) count too.
    A row's value is null where it holds none of these, and a missing, null or empty field is
    the same nothing, so rows of sources in other formattings compare alike. Returns None when
    there is nothing to hold at all. Built with Arrow kernels and hashed on the buffers
    (``normalize.text``'s xxh3), so its cost is a pass over the bytes.
    """
    parts = {n: _field_text(table.column(n)) for n in names if n in table.column_names}
    if chat is not None:
        parts[TURNS_NOT_COMPARED] = chat_text(table.column(chat), tags or {}, roles, chat,
                                              invert=True)
        if has_content_lists(table.column(chat).type):
            parts[MEDIA_PARTS] = _media_parts(table.column(chat), tags or {})
    if not parts:
        return None
    empty = pa.scalar("", pa.string())
    pieces = []
    for name, values in sorted(parts.items()):
        values = pc.fill_null(values.cast(pa.string()), "")
        keyed = pc.binary_join_element_wise(pa.scalar(f"{name}=", pa.string()), values, "")
        pieces.append(pc.if_else(pc.equal(values, ""), empty, keyed))
    joined = pc.binary_join_element_wise(*pieces, "\x1f") if len(pieces) > 1 else pieces[0]
    nothing = pc.equal(joined, "\x1f" * (len(pieces) - 1)).to_numpy(zero_copy_only=False)
    data, offsets = text_buffers(joined)
    hashes = _buffer_hashes(data, offsets)
    return pa.array(hashes, pa.uint64(), mask=np.asarray(nothing, dtype=bool))


TURNS_NOT_COMPARED = "(turns not compared)"
MEDIA_PARTS = "(media parts)"


def _media_parts(column: pa.ChunkedArray, tags: dict[str, str]) -> pa.ChunkedArray:
    """Per chat, the JSON of its content parts that are no text (images, audio); "" if none."""
    content_keys = (tags.get("content_tag") or "content", "content", "value")
    out = []
    for messages in column.to_pylist():
        media = []
        for message in messages or []:
            content = next((message.get(k) for k in content_keys if isinstance(message, dict)
                            and isinstance(message.get(k), list)), None)
            media += [p for p in content or [] if isinstance(p, dict)
                      and str(p.get("type", "")).lower() != "text"]
        out.append(to_json(media) if media else "")
    return pa.chunked_array([pa.array(out, pa.string())])


def _field_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column
    return pa.chunked_array([pa.array([None if v is None else to_json(v)
                                       for v in column.to_pylist()], pa.string())])


def has_content_lists(kind: pa.DataType) -> bool:
    """Whether a chat type's messages hold content lists (typed parts) somewhere."""
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return False
    value = kind.value_type
    return pa.types.is_struct(value) and any(
        pa.types.is_list(f.type) or pa.types.is_large_list(f.type) for f in value)


def prompt_groups(table: pa.Table, spec: FormatSpec, roles: list[str] | None) -> pa.Array:
    """Preference and KTO rows: a group key per prompt (``prompt:`` and a hash of its text)."""
    cols = spec.columns
    if spec.formatting == "alpaca":
        prompt = _alpaca_prompt(table, cols)
    elif spec.formatting in ("sharegpt", "openai"):
        prompt = chat_text(_prompt_turns(table.column(cols["messages"]), spec), spec.tags,
                           roles, cols["messages"])
    elif "prompt" in cols:
        prompt = _answer(table.column(cols["prompt"]), "user", spec.tags, roles)
    else:  # TRL implicit prompt: the turns (or the text) chosen and rejected begin with
        prompt = pa.chunked_array([pa.array([to_json(_shared_start(a, b)) for a, b in zip(
            table.column(cols["chosen"]).to_pylist(), table.column(cols["rejected"]).to_pylist(),
            strict=True)], pa.string())])
    _, hashes = normalize_buffers(*text_buffers(prompt))  # the prompt as dedup compares it
    return pa.array(np.char.add(GROUP_PREFIX, np.char.mod("%016x", hashes)), pa.string())


def _shared_start(a: Any, b: Any) -> Any:
    """The messages (or characters) two answers of one prompt start with: the prompt."""
    if isinstance(a, list) and isinstance(b, list):
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return a[:n]
    if isinstance(a, str) and isinstance(b, str):
        return a[:len(os.path.commonprefix([a, b]))]
    return None


def _prompt_turns(column: pa.ChunkedArray, spec: FormatSpec) -> pa.ChunkedArray:
    """KTO conversations end in the answer judged: the prompt is every turn before it."""
    if spec.ranking:
        return column  # the answers are in chosen/rejected
    kind = column.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return column
    chunks = []
    for chunk in column.chunks:
        lengths = pc.fill_null(pc.list_value_length(chunk), 0).to_numpy(zero_copy_only=False)
        starts = np.asarray(chunk.offsets.to_numpy(zero_copy_only=False)[:-1], dtype=np.int64)
        flat = chunk.values
        keep = np.zeros(len(flat), dtype=bool)
        for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
            keep[start:start + max(length - 1, 0)] = True
        new_len = np.maximum(lengths - 1, 0)
        offsets = np.r_[0, np.cumsum(new_len)].astype(np.int32)
        values = flat.filter(pa.array(keep)) if len(flat) else flat
        chunks.append(pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values))
    return pa.chunked_array(chunks)


def differing_fields(table: pa.Table, names: list[str], a: int, b: int) -> list[str]:
    """Which of ``names`` differ between rows ``a`` and ``b`` (for the dedup report)."""
    out = []
    for name in names:
        if name in table.column_names:
            column = table.column(name)
            if to_json(column[a].as_py()) != to_json(column[b].as_py()):
                out.append(name)
    return out


# -- LLaMA-Factory's dataset_info.json ---------------------------------------------------------


def dataset_info_entry(info_path: str, name: str, base: Path, given: dict[str, Any]
                       ) -> dict[str, Any]:
    """The source keys of one ``dataset_info.json`` entry: path, formatting, columns, tags, ranking.

    ``path`` is the entry's ``file_name`` relative to the dataset_info file, written relative to
    ``base`` as the recipe wrote ``info_path``. Keys given in the recipe win over the entry's.

    Raises:
        ValueError: no such file or entry, an entry that is no local file, or a file that is
            not JSON.
    """
    path = Path(info_path).expanduser()
    full = path if path.is_absolute() else base / path
    try:
        info = json.loads(full.read_text("utf-8"))
    except FileNotFoundError:
        raise ValueError(f"dataset_info: no such file: {info_path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"dataset_info: cannot read {info_path} as JSON: {exc}") from None
    if not isinstance(info, dict):
        raise ValueError(f"dataset_info: {info_path} holds no mapping of dataset names")
    if name not in info:
        close = difflib.get_close_matches(name, list(info), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"dataset: {name!r} is not an entry of {info_path}{hint}")
    entry = info[name]
    if not isinstance(entry, dict) or "file_name" not in entry:
        hub = next((k for k in ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url")
                    if isinstance(entry, dict) and k in entry), None)
        why = f"it names {hub}, a download" if hub else "it has no file_name"
        raise ValueError(f"dataset: entry {name!r} of {info_path} is no local file ({why}); "
                         f"download it and give its path")
    columns = dict(entry.get("columns") or {})
    formatting = entry.get("formatting", "alpaca")
    if formatting == "alpaca" and set(columns) == {"prompt"}:
        formatting = "text"  # a pretraining entry: one text column
    elif formatting == "sharegpt" and (entry.get("tags") or {}).get("role_tag") == "role":
        formatting = "openai"
    folder = PurePosixPath(Path(info_path).as_posix()).parent
    out: dict[str, Any] = {
        "path": str(folder / entry["file_name"]) if str(folder) != "." else entry["file_name"],
        "formatting": formatting, "columns": columns, "tags": dict(entry.get("tags") or {}),
        "ranking": bool(entry.get("ranking", False)),
    }
    for key in ("formatting", "columns", "tags", "ranking"):
        if given.get(key) is not None:
            out[key] = given[key]
    return out
