"""The recipe: pydantic models of the YAML file, its loading, overrides and validation.

Every model forbids unknown keys. ``load_recipe`` reports every problem at once, each with its
key path (``split.ratios: must sum to 1, got 1.1``), and suggests the right spelling of a
misspelt key. Relative paths in a recipe are relative to the recipe file's folder.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import typing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from splitforge.errors import RecipeError
from splitforge.templates import required_fields, template_fields

SPLITS = ("train", "val", "test")
_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


MAX_NAME = 100  # characters of a recipe or source name (it names a folder)
MAX_DEPTH = 40  # nesting levels a recipe file may have


def _number_kind(annotation: Any) -> str | None:
    """What a field holding only numbers or bools expects ("an integer", ...); None otherwise."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is Annotated:
        return _number_kind(args[0])
    if args:
        kinds = [_number_kind(a) for a in args if a is not type(None)]
        return kinds[0] if kinds and all(kinds) else None
    return {int: "an integer", float: "a number", bool: "true or false"}.get(annotation)


def _plain_scalar(text: str) -> Any:
    """What ``text`` would be in YAML without quotes."""
    try:
        return parse_scalar(text)
    except yaml.YAMLError:
        return text


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_quoted_numbers(cls, value: Any, info: Any) -> Any:
        """``seed: "7"`` is a string in YAML: refuse it rather than guess."""
        field = cls.model_fields.get(info.field_name) if info.field_name else None
        kind = _number_kind(field.annotation) if field is not None else None
        if isinstance(value, str) and kind is not None:
            quoted = isinstance(_plain_scalar(value), int | float | bool)
            raise ValueError(f"expected {kind}, got the string {value!r}"
                             + (" (write it without quotes)" if quoted else ""))
        return value


def parse_duration(value: str | int | float) -> timedelta:
    """Parse ``7d``, ``12h``, ``30m``, ``45s``, ``2w`` or a number of seconds into a timedelta."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 7d, 12h or 3600 (seconds)")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(
                f"expected a duration such as 7d, 12h, 30m, 45s, 2w or a number of seconds, "
                f"got {value!r}"
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return timedelta(seconds=seconds)


FORMATTINGS = ("alpaca", "sharegpt", "openai", "preference", "kto", "text")
# The column roles of a formatting (LLaMA-Factory's dataset_info "columns" keys).
COLUMN_ROLES = ("prompt", "query", "response", "history", "messages", "system", "tools",
                "images", "videos", "audios", "chosen", "rejected", "kto_tag", "completion",
                "label")
TAG_KEYS = ("role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag",
            "function_tag", "system_tag")


class SourceConfig(_Model):
    """One input: a file or a Hugging Face ``datasets`` folder, read as it is or by formatting."""

    path: str | None = Field(
        None, description="File (.jsonl .json .csv .txt .parquet, optionally .gz) or a datasets "
        "folder (save_to_disk). Relative to the recipe file. Filled from dataset_info when that "
        "is given."
    )
    format: Literal["auto", "jsonl", "json", "csv", "parquet", "txt", "datasets"] = Field(
        "auto", description="File format; auto infers it from the extension or folder."
    )
    formatting: Literal["alpaca", "sharegpt", "openai", "preference", "kto", "text"] | None = \
        Field(None, description="A fine-tuning framework's data layout: alpaca (instruction/"
              "input/output), sharegpt (conversations of from/value), openai (messages of role/"
              "content), preference (TRL prompt/chosen/rejected), kto (TRL prompt/completion/"
              "label) or text (pretraining). It sets the text compared (user and assistant "
              "turns, the system prompt left out), the fields a row's identity holds (tools, "
              "media, chosen/rejected) and, for preference data, the group (the prompt); "
              "fields.text and fields.messages are then not given.")
    columns: dict[str, str] = Field(
        default_factory=dict, description="With formatting: this file's column for a role "
        "(prompt, query, response, history, messages, system, tools, images, videos, audios, "
        "chosen, rejected, kto_tag, completion, label), as in LLaMA-Factory's dataset_info."
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="With sharegpt/openai: the message keys and role "
        "names (role_tag, content_tag, user_tag, assistant_tag, observation_tag, function_tag, "
        "system_tag), as in LLaMA-Factory's dataset_info."
    )
    ranking: bool = Field(
        False, description="With alpaca or sharegpt: preference data whose chosen and rejected "
        "columns hold the answers (LLaMA-Factory's ranking: true)."
    )
    dataset_info: str | None = Field(
        None, description="A LLaMA-Factory dataset_info.json: with `dataset`, reads that entry's "
        "file_name, formatting, columns, tags and ranking as LLaMA-Factory does."
    )
    dataset: str | None = Field(
        None, description="The entry of dataset_info to read (its key, e.g. alpaca_en_demo)."
    )
    text_unit: Literal["line", "paragraph"] = Field(
        "line", description="How a .txt source splits into documents: one per line (as "
        "LLaMA-Factory reads it) or one per blank-line separated paragraph."
    )
    split: str | None = Field(
        None, description="For a datasets folder holding a DatasetDict: which split to read."
    )
    name: str | None = Field(
        None, description="How sf_source names this source's rows (default: its path as "
        "written, relative to the recipe)."
    )
    id_prefix: str = Field(
        "", description="Prefix added to this source's ids, so that ids of several sources "
        "cannot collide (e.g. 'gsm8k-train/')."
    )
    on_error: Literal["fail", "skip"] = Field(
        "fail", description="fail: stop at the first bad row with its file, line and field. "
        "skip: drop bad rows, count them in the manifest and write them to rejected.jsonl."
    )
    max_line_mb: float = Field(
        16, gt=0, description="The longest JSON line read, in MB (parsing holds many times a "
        "line in memory); a longer one is a bad row (line_too_long)."
    )

    @field_validator("columns")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        return _known_keys(value, COLUMN_ROLES, "column role")

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, value: dict[str, str]) -> dict[str, str]:
        return _known_keys(value, TAG_KEYS, "tag")

    @model_validator(mode="after")
    def _located(self) -> SourceConfig:
        if self.path is None and self.dataset_info is None:
            raise ValueError("give path (a file or folder) or dataset_info with dataset")
        if (self.dataset_info is None) != (self.dataset is None):
            raise ValueError("dataset_info and dataset go together: the dataset_info.json file "
                             "and the name of its entry")
        if self.formatting is None and (self.columns or self.tags or self.ranking):
            raise ValueError("columns, tags and ranking describe a formatting; set formatting "
                             "(alpaca, sharegpt, openai, preference, kto or text)")
        return self

    @model_validator(mode="before")
    @classmethod
    def _from_dataset_info(cls, data: Any, info: Any) -> Any:
        """Fill path, formatting, columns, tags and ranking from a dataset_info.json entry."""
        if not isinstance(data, dict) or not data.get("dataset_info") or not data.get(
                "dataset") or data.get("path") is not None:
            return data  # a resolved recipe (a build's manifest) names its path already
        from splitforge.load.formats import dataset_info_entry

        base = (info.context or {}).get("base") if info.context else None
        return {**data, **dataset_info_entry(str(data["dataset_info"]), str(data["dataset"]),
                                             Path(base) if base else Path.cwd(), data)}


def _known_keys(value: dict[str, str], known: tuple[str, ...], what: str) -> dict[str, str]:
    for key in value:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"unknown {what} {key!r}; {hint}known: {', '.join(known)}")
    return value


class FieldsConfig(_Model):
    """Which input fields play which role. Only ``text`` or ``messages`` is required."""

    id: str | None = Field(
        None, description="Field holding a unique id; without it, a stable hash of the record."
    )
    text: str | None = Field(
        None, description="The text compared for duplicates: a field name, or a template of "
        "field names such as '{question}\\n{answer}'; '{system?}' is optional (empty where null "
        "or absent), '{meta.title}' a nested field."
    )
    messages: str | None = Field(
        None, description="Alternative to text: a chat list of {role, content} or {from, value}; "
        "flattened to 'role: content' lines."
    )
    time: str | None = Field(
        None, description="Timestamp field: ISO 8601 strings (offsets converted to UTC; naive "
        "times are taken as UTC), dates, or epoch seconds/milliseconds."
    )
    group: str | None = Field(
        None, description="Grouping key (user, conversation, source): a group is never split "
        "across train/val/test."
    )
    label: str | None = Field(None, description="Category, used by stratified splits.")
    roles: list[str] | None = Field(
        None, description="Chat roles whose turns are compared (dedup, leak links, audit); "
        "default: every role but system, so a system prompt shared by the rows is no evidence. "
        "Names as in the data; human/gpt (ShareGPT) equal user/assistant. The output keeps "
        "every message."
    )
    identity: list[str] | None = Field(
        None, description="Fields besides the text that a row's identity holds: exact dedup "
        "removes a row only when they are equal too (what the trainer reads). Default: the "
        "columns of the source's formatting, else system, tools, images, videos, audios, "
        "chosen, rejected and history where the data has them; with messages, the turns not "
        "compared (the system prompt) always count. [] for the text alone."
    )
    allow_any_time: bool = Field(
        False, description="Accept times before 1971, from 2200 on, or (among the newest 1%) "
        "further ahead of the rest of the column than a year and than the rest's own span; "
        "refused by default, as such a time is usually a unit or typing slip that would move "
        "the row across the temporal split."
    )

    @field_validator("text")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        if value is not None:
            template_fields(value)
        return value

    @field_validator("id", "messages", "time", "group", "label")
    @classmethod
    def _one_field(cls, value: str | None) -> str | None:
        if value is not None and ("{" in value or "}" in value):
            raise ValueError(f"a field name, not a template, got {value!r}; only fields.text "
                             f"takes a template")
        return value

    @model_validator(mode="after")
    def _text_or_messages(self) -> FieldsConfig:
        if self.text is not None and self.messages is not None:
            raise ValueError("give exactly one of 'text' (a field or template) or 'messages'")
        return self

    @property
    def mapped(self) -> bool:
        """Whether the text is mapped here (``text`` or ``messages``), not by a formatting."""
        return self.text is not None or self.messages is not None

    def source_fields(self) -> list[str]:
        """Every input field the mapping reads, in a fixed order."""
        names: list[str] = []
        if self.id:
            names.append(self.id)
        if self.text is not None:
            names.extend(required_fields(self.text))
        if self.messages:
            names.append(self.messages)
        names.extend(n for n in (self.time, self.group, self.label) if n)
        return list(dict.fromkeys(names))


class MinHashConfig(_Model):
    """Near-duplicate detection with MinHash LSH (datasketch-compatible signatures)."""

    threshold: float = Field(
        0.5, gt=0, le=1, description="Estimated Jaccard similarity of shingle sets at or above "
        "which two rows are near duplicates."
    )
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations.")
    ngram: int = Field(2, ge=1, le=20, description="Words per shingle.")
    char_ngram: int = Field(
        2, ge=1, le=20, description="Characters per shingle for Chinese/Japanese/Korean text."
    )
    unit: Literal["auto", "word", "char"] = Field(
        "auto", description="auto: character shingles for CJK text, word shingles otherwise."
    )
    seed: int = Field(1, description="Seed of the permutations (datasketch.MinHash's seed).")
    min_tokens: int = Field(
        8, ge=1, description="A pair whose shorter text has fewer words (a CJK character counts "
        "as one) is a near duplicate only when it holds the same words but for a prefix or a "
        "trailing tag (\"Show HN:\", \"(2019)\"): on short text one changed word often makes a "
        "different text, and no similarity threshold tells them apart."
    )
    num_proc: int | None = Field(
        None, ge=1, description="Processes for the signatures (default: all cores); used from "
        "50,000 rows up. Results do not depend on it."
    )


class SemanticConfig(_Model):
    """Semantic duplicates: cosine similarity of embeddings, neighbours found with faiss."""

    threshold: float = Field(
        0.92, gt=0, le=1, description="Cosine similarity at or above which two rows are "
        "semantic duplicates."
    )
    embedder: Literal["tfidf", "sentence-transformers"] = Field(
        "tfidf", description="tfidf: hashed word+character TF-IDF reduced by SVD (no model "
        "needed). sentence-transformers: the local model at `model`."
    )
    model: str | None = Field(None, description="Folder of a local sentence-transformers model.")
    dim: int = Field(256, ge=8, le=4096, description="SVD dimensions of the tfidf embedder.")
    fit_rows: int = Field(5_000, ge=100, description="Rows sampled to fit the tfidf SVD.")
    k: int = Field(10, ge=1, le=1000, description="Neighbours examined per row.")
    exact_below: int = Field(
        50_000, ge=0, description="Exact (flat) faiss search below this many rows, IVF above."
    )
    nprobe: int | None = Field(
        None, ge=1, description="IVF lists probed per query (default: a 64th of the lists, "
        "at least 16)."
    )
    device: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="auto: a faiss GPU index when faiss sees a GPU, else CPU."
    )
    num_proc: int | None = Field(
        None, ge=1, description="Processes for the tfidf embeddings (default: all cores); used "
        "from 20,000 rows up. Results do not depend on it."
    )

    @model_validator(mode="after")
    def _model_for_st(self) -> SemanticConfig:
        if self.embedder == "sentence-transformers" and not self.model:
            raise ValueError("embedder sentence-transformers needs model: the folder of a local "
                             "model")
        return self


class DedupConfig(_Model):
    """Duplicate removal and placement.

    A row is removed only when it is a verified copy of a kept row (a direct pair, not a chain);
    a cluster's kept rows are placed in one split. A cluster's survivor is its earliest member,
    then the smallest id.
    """

    exact: bool = Field(
        True, description="Remove exact duplicates of the normalized text (NFKC, casefold, "
        "whitespace collapsed, full-width forms folded)."
    )
    minhash: MinHashConfig | None = Field(
        None, description="Near duplicates by MinHash LSH; {} turns it on with the defaults."
    )
    semantic: SemanticConfig | None = Field(
        None, description="Semantic duplicates by embedding similarity; {} for the defaults."
    )
    keep: Literal["earliest", "longest", "first-seen"] = Field(
        "earliest", description="Which member of a duplicate cluster survives: earliest (time, "
        "then smallest id; what keeps temporal splits leakage-free), longest text, or first-seen "
        "(input order). Ties go to the smallest id."
    )
    max_cluster_share: float = Field(
        0.01, gt=0, le=1, description="A cluster is placed whole in one split unless its kept "
        "rows exceed this share of all kept rows and number more than 10 (templated data can "
        "chain many distinct rows); the kept rows of a larger cluster are placed one by one, and "
        "the build's audit removes any eval row still linked to train (split:leak_link)."
    )


class BoilerplateConfig(_Model):
    """Spans that recur in many rows (a prompt template, a license header, a signature).

    They are left out of every similarity test (dedup, leak links, audit) and kept in the output;
    the report lists them with their row counts.
    """

    detect: bool = Field(True, description="Find recurring spans in the data itself.")
    min_share: float = Field(
        0.05, gt=0, le=1, description="A run of `ngram` words held by at least this share of "
        "the rows is boilerplate."
    )
    min_rows: int = Field(10, ge=2, description="... and by at least this many rows.")
    ngram: int = Field(4, ge=2, le=20, description="Words per run.")
    char_ngram: int = Field(6, ge=2, le=40, description="Characters per run for CJK text.")
    ignore: list[str] = Field(
        default_factory=list, description="Spans always left out of similarity, wherever they "
        "occur (every run of `ngram` words of a span; a shorter span as a whole)."
    )

    def settings(self) -> Any:
        """The ``normalize.boilerplate`` settings of this section."""
        from splitforge.normalize.boilerplate import BoilerplateSettings

        return BoilerplateSettings(self.detect, self.min_share, self.min_rows, self.ngram,
                                   self.char_ngram, tuple(self.ignore))


class Ratios(_Model):
    """Shares of rows per split; they must sum to 1."""

    train: float = Field(0.8, ge=0, le=1, description="Share of train.")
    val: float = Field(0.1, ge=0, le=1, description="Share of val.")
    test: float = Field(0.1, ge=0, le=1, description="Share of test.")

    @model_validator(mode="after")
    def _sum_to_one(self) -> Ratios:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"must sum to 1, got {total:.10g}")
        if self.train <= 0:
            raise ValueError("train must be greater than 0")
        return self


class Cutoffs(_Model):
    """Temporal cutoffs: val starts at ``val``, test at ``test`` (UTC; dates mean midnight UTC)."""

    val: datetime | None = Field(None, description="Start of val (omit: train and test only).")
    test: datetime = Field(description="Start of test.")

    @field_validator("val", "test", mode="before")
    @classmethod
    def _to_datetime(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        return value

    @field_validator("val", "test")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _ordered(self) -> Cutoffs:
        if self.val is not None and self.val >= self.test:
            raise ValueError(f"val ({self.val.isoformat()}) must be before test "
                             f"({self.test.isoformat()})")
        return self


SplitMethod = Literal["random", "stratified", "group", "temporal"]


class SplitConfig(_Model):
    """How kept rows are assigned to train/val/test."""

    method: SplitMethod = Field(
        "random", description="random | stratified (by fields.label) | group (by fields.group) | "
        "temporal (by fields.time)."
    )
    ratios: Ratios | None = Field(
        None, description="Shares of train/val/test; default 0.8/0.1/0.1. For temporal, the "
        "cutoffs are placed at these shares of the rows in time order."
    )
    cutoffs: Cutoffs | None = Field(
        None, description="Temporal only, instead of ratios: {val: DATE, test: DATE}."
    )
    gap: str | int | None = Field(
        None, description="Temporal only: embargo such as 7d; rows less than this before a "
        "cutoff are dropped, so val is at least gap later than train and test than val."
    )
    folds: int | None = Field(
        None, ge=2, le=100, description="Cross-validation folds over train: each train row "
        "gets sf_fold 0..folds-1 by a seeded hash of its unit, so a group, a duplicate cluster "
        "and rows the audit links across folds sit in one fold (stratified: per label, within "
        "one unit of each fold's share). Not with temporal."
    )

    @field_validator("gap")
    @classmethod
    def _check_gap(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SplitConfig:
        if self.method != "temporal":
            if self.cutoffs is not None:
                raise ValueError(f"cutoffs only apply to method: temporal, not {self.method}")
            if self.gap is not None:
                raise ValueError(f"gap only applies to method: temporal, not {self.method}")
        if self.ratios is not None and self.cutoffs is not None:
            raise ValueError("give either ratios or cutoffs, not both")
        if self.folds is not None and self.method == "temporal":
            raise ValueError("folds are for random, stratified and group splits; a temporal "
                             "split keeps time order (use cutoffs for a backtest)")
        return self

    @property
    def resolved_ratios(self) -> Ratios:
        """The ratios in force (the default 0.8/0.1/0.1 when none are given)."""
        return self.ratios or Ratios()

    @property
    def gap_delta(self) -> timedelta:
        """The embargo as a timedelta (zero when unset)."""
        return parse_duration(self.gap) if self.gap is not None else timedelta(0)


EdgeRule = Literal["shortest", "longest", "rare_label", "rare_words", "unusual_chars"]
EDGE_RULES: tuple[str, ...] = ("shortest", "longest", "rare_label", "rare_words", "unusual_chars")
PERTURBATION_NAMES: tuple[str, ...] = (
    "keyboard_typo", "ocr", "char_insert", "char_swap", "char_delete", "word_drop", "word_swap",
    "spelling", "zh_traditional", "zh_fullwidth_punct", "zh_char_drop", "zh_char_swap",
)
ChallengeKindName = Literal["edge", "ood", "temporal", "adversarial"]


class SliceWhere(_Model):
    """A predicate over a held-out row; every condition given must hold."""

    text_matches: str | None = Field(
        None, description="Regular expression searched in the row's text (Python `re`, "
        "case-insensitive)."
    )
    field: str | None = Field(None, description="An input field, for `equals` or `matches`.")
    equals: str | int | float | bool | None = Field(
        None, description="The value `field` must equal."
    )
    matches: str | None = Field(None, description="Regular expression searched in `field`.")
    min_chars: int | None = Field(None, ge=0, description="Text at least this many characters.")
    max_chars: int | None = Field(None, ge=0, description="Text at most this many characters.")
    min_words: int | None = Field(None, ge=0, description="Text at least this many words.")
    max_words: int | None = Field(None, ge=0, description="Text at most this many words.")

    @field_validator("text_matches", "matches")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a valid regular expression ({error}): {value!r}") from None
        return value

    @model_validator(mode="after")
    def _coherent(self) -> SliceWhere:
        if not self.model_fields_set:
            raise ValueError("give at least one condition (text_matches, field with equals or "
                             "matches, min_chars, max_chars, min_words, max_words)")
        if (self.equals is not None or self.matches is not None) and self.field is None:
            raise ValueError("equals and matches need field: the input field they test")
        if self.field is not None and self.equals is None and self.matches is None:
            raise ValueError(f"field {self.field!r} needs equals or matches")
        return self


class EdgeSlice(_Model):
    """A user-defined slice: the rows a team worries about most."""

    name: Annotated[str, Field(pattern=_NAME_PATTERN, max_length=MAX_NAME)] = Field(
        description="Names the slice in sf_reason (slice:<name>)."
    )
    where: SliceWhere = Field(description="The conditions a row of the slice meets.")


class EdgeConfig(_Model):
    """Edge cases: extremes of length, rare labels and words, unusual characters, user slices."""

    rules: list[EdgeRule] = Field(
        default_factory=lambda: list(EDGE_RULES),
        description="Built-in rules: shortest/longest (character length percentiles), "
        "rare_label (labels under rare_label_share of train), rare_words (highest mean IDF "
        "against train), unusual_chars (emoji, mixed scripts, code, URLs, long numbers).",
    )
    slices: list[EdgeSlice] = Field(default_factory=list, description="User-defined slices.")

    @field_validator("slices")
    @classmethod
    def _unique_names(cls, value: list[EdgeSlice]) -> list[EdgeSlice]:
        names = [s.name for s in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"slice names must be unique; repeated: {', '.join(repeated)}")
        return value
    rare_label_share: float = Field(
        0.05, gt=0, lt=1, description="A label is rare below this share of the train rows."
    )


class OodConfig(_Model):
    """Out-of-distribution items: far from everything in train."""

    method: Literal["knn", "isolation_forest"] = Field(
        "knn", description="knn: distance to the k nearest train rows (1 - mean cosine, tfidf "
        "embeddings fitted on train and held-out rows, faiss) plus how much held-out rows "
        "crowd the row's neighbourhood beyond chance; isolation_forest: sklearn "
        "IsolationForest over the same embeddings (finds isolated rows, not a foreign group)."
    )
    k: int = Field(5, ge=1, le=100, description="Neighbours examined by knn.")


class TemporalChallengeConfig(_Model):
    """Temporal shift: the newest held-out items."""

    after: datetime | None = Field(
        None, description="Only items strictly after this time (UTC; a date means midnight "
        "UTC); default: the newest items of the pool."
    )

    _to_datetime = field_validator("after", mode="before")(Cutoffs._to_datetime.__func__)
    _to_utc = field_validator("after")(Cutoffs._to_utc.__func__)


class AdversarialConfig(_Model):
    """Adversarial noise on the input fields of held-out items."""

    fields: list[str] | None = Field(
        None, description="Input fields to perturb (default: the first field of the text "
        "template, or the text field); other fields, such as the reference answer, stay intact."
    )

    @field_validator("fields")
    @classmethod
    def _input_fields(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if len(set(value)) != len(value):
                raise ValueError("a field is named twice")
            own = [v for v in value if v.startswith("sf_")]
            if own:
                raise ValueError(f"{', '.join(own)}: splitforge's own columns are not input "
                                 f"fields; name the fields of your data")
        return value
    perturbations: list[str] = Field(
        default_factory=lambda: list(PERTURBATION_NAMES),
        description="Perturbations to apply; each item gets one, chosen in turn. Latin ones "
        "apply to non-CJK text, zh_* ones to CJK text.",
    )

    @field_validator("perturbations")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in PERTURBATION_NAMES]
        if unknown:
            hints = [difflib.get_close_matches(v, PERTURBATION_NAMES, n=1) for v in unknown]
            said = ", ".join(f"{v!r}" + (f" (did you mean {h[0]!r}?)" if h else "")
                             for v, h in zip(unknown, hints, strict=True))
            raise ValueError(f"unknown perturbation {said}; valid: "
                             f"{', '.join(PERTURBATION_NAMES)}")
        if not value:
            raise ValueError("name at least one perturbation")
        return value


class ChallengeMix(_Model):
    """Shares of the challenge size per kind (they must sum to 1)."""

    edge: float = Field(0.3, ge=0, le=1, description="Share of edge cases.")
    ood: float = Field(0.3, ge=0, le=1, description="Share of out-of-distribution items.")
    temporal: float = Field(0.2, ge=0, le=1, description="Share of the newest items.")
    adversarial: float = Field(0.2, ge=0, le=1, description="Share of perturbed items.")

    @model_validator(mode="after")
    def _sums_to_one(self) -> ChallengeMix:
        total = self.edge + self.ood + self.temporal + self.adversarial
        if abs(total - 1) > 1e-9:
            raise ValueError(f"must sum to 1, got {total:.10g}")
        return self


class ChallengeConfig(_Model):
    """Challenge sets drawn from held-out rows only: edge, ood, temporal, adversarial."""

    size: int = Field(400, ge=1, description="Total challenge items over all kinds.")
    from_: list[Literal["val", "test"]] = Field(
        default_factory=lambda: ["test"], alias="from", min_length=1,
        description="Held-out splits to draw from (never train).",
    )
    mix: ChallengeMix = Field(
        default_factory=ChallengeMix, description="Share of `size` per kind; a kind with too few "
        "candidates leaves its rest to the others (the report says so)."
    )
    edge: EdgeConfig = Field(default_factory=EdgeConfig, description="Edge-case rules and slices.")
    ood: OodConfig = Field(default_factory=OodConfig, description="How OOD items are scored.")
    temporal: TemporalChallengeConfig = Field(
        default_factory=TemporalChallengeConfig, description="Which items count as newest."
    )
    adversarial: AdversarialConfig = Field(
        default_factory=AdversarialConfig, description="Which fields get which noise."
    )
    keep_from: str | None = Field(
        None, description="A previous build folder whose challenge sets stay fixed across a "
        "refresh: each of its items whose source row is still held out here (in `from`, with "
        "the same text) is kept as it was (same id, same perturbation); new items fill the "
        "rest of `size`. Its manifest is part of the build id."
    )


class AuditThresholdsConfig(_Model):
    """Per-check thresholds of the audit's verdicts."""

    ngram_contaminated: float = Field(0.5, gt=0, le=1, description="Share of an item's "
                                      "n-grams found in training that makes it contaminated.")
    ngram_suspect: float = Field(0.2, gt=0, le=1, description="... that makes it suspect.")
    ngram_token_suspect: float = Field(0.4, gt=0, le=1, description="Share of an item's words "
                                       "inside its n-grams found in training that makes it "
                                       "suspect (an edit breaks every n-gram around it, but "
                                       "only one word).")
    minhash_contaminated: float = Field(0.6, gt=0, le=1, description="Estimated Jaccard that "
                                        "makes an item contaminated.")
    minhash_suspect: float = Field(0.4, gt=0, le=1, description="... that makes it suspect.")
    embedding_contaminated: float = Field(0.9, gt=0, le=1, description="Sentence-embedding "
                                          "cosine with a retrieved training text that makes "
                                          "an item contaminated.")
    embedding_suspect: float = Field(0.85, gt=0, le=1, description="... that makes it "
                                     "suspect.")
    embedding_margin: float = Field(0.1, ge=0, le=1, description="An item is also suspect when "
                                    "its cosine is at least embedding_floor and this much above "
                                    "the next-best training text.")
    embedding_floor: float = Field(0.7, gt=0, le=1, description="See embedding_margin.")
    embedding_alignment: float = Field(0.68, ge=0, le=1, description="BERTScore F1 (token "
                                       "alignment) of the item and the training text that an "
                                       "embedding flag also needs, unless ...")
    embedding_standout: float = Field(0.5, ge=0, le=1, description="... its margin over the "
                                      "next-best training text is at least this.")
    embedding_numbers: float = Field(0.6, ge=0, le=1, description="Share of an item's numbers "
                                     "(when it has two or more) that the training text must "
                                     "have for an embedding flag: a rephrased word problem keeps "
                                     "its numbers, a look-alike has its own.")
    embedding_window_from: int = Field(256, ge=1, description="A training text of more words "
                                       "is compared by passages (windows), not as one vector.")
    embedding_window: int | None = Field(None, ge=1, description="Words per passage window "
                                         "(default: 1.25 times the median eval item, 16-128).")
    min_tokens: int = Field(8, ge=1, description="Items shorter than this many words are at "
                            "most suspect when only found inside a training text.")

    @model_validator(mode="after")
    def _ordered(self) -> AuditThresholdsConfig:
        if self.ngram_suspect > self.ngram_contaminated:
            raise ValueError("ngram_suspect must not exceed ngram_contaminated")
        if self.minhash_suspect > self.minhash_contaminated:
            raise ValueError("minhash_suspect must not exceed minhash_contaminated")
        if self.embedding_suspect > self.embedding_contaminated:
            raise ValueError("embedding_suspect must not exceed embedding_contaminated")
        return self


DEFAULT_AUDIT_METHODS = ("exact", "ngram", "minhash", "embedding")  # `splitforge audit`'s checks
# The build's own audit keeps the three copy checks by default until the encoder is fast enough
# for every build (issue #14: ~140 CPU-s for 1.3k eval items against 8.6k rows on 2 cores on a
# cold vector cache, ~12 warm).
BUILD_AUDIT_METHODS = ("exact", "ngram", "minhash")


class AuditConfig(_Model):
    """The build audits its own eval data (val, test, challenge sets) against train."""

    methods: list[Literal["exact", "ngram", "minhash", "embedding"]] = Field(
        default_factory=lambda: list(BUILD_AUDIT_METHODS),
        description="Checks to run; [] turns the build's audit off. Add `embedding` "
        "(paraphrases: a sentence-embedding model verifies retrieved candidates; the default of "
        "`splitforge audit`) to catch rephrased copies; it is the slowest check.",
    )
    embedding_model: str = Field(
        "minilm", description="Model of the embedding check: `minilm` (the packaged "
        "all-MiniLM-L6-v2) or the folder of a sentence-transformers BERT model."
    )
    ngram: int = Field(13, ge=2, le=50, description="Words per n-gram (characters for CJK).")
    fail_on: Literal["contaminated", "suspect", "never"] = Field(
        "contaminated", description="The build fails (exit 1, nothing written) when an eval "
        "item reaches this verdict."
    )
    on_contaminated: Literal["remove", "fail", "keep"] = Field(
        "remove", description="What the build does with a val/test row the audit calls "
        "contaminated: remove it (removed.parquet: split:leak_link when the evidence is a train "
        "row, audit:contaminated when it is an `against` corpus, with the evidence id), so the "
        "build's own audit reports 0 contaminated; fail (exit 1, nothing written: the CI "
        "choice); or keep it and let fail_on decide."
    )
    against: list[str] = Field(
        default_factory=list, description="External training corpora (JSONL or Parquet, "
        "relative to the recipe) to audit the eval data against as well."
    )
    against_text: str | None = Field(
        None, description="Text field of the `against` files, or a template over their fields "
        "(default: fields.text)."
    )
    thresholds: AuditThresholdsConfig = Field(
        default_factory=AuditThresholdsConfig, description="Per-check verdict thresholds."
    )
    self_test: bool = Field(
        False, description="Also measure the audit: plant verbatim, edited and rule-based "
        "rephrased copies of up to 200 val/test items into a sample of 2,000 train rows, audit "
        "that sample with these settings, and record the recall per kind and the false-positive "
        "rate (audit/self_test.json); it never changes the audit's verdicts or gate."
    )

    @model_validator(mode="after")
    def _self_test_needs_methods(self) -> AuditConfig:
        if self.self_test and not self.methods:
            raise ValueError("self_test: true needs audit methods (methods: [] turns the audit "
                             "off, so there is nothing to test); give methods or drop self_test")
        return self


class OutputConfig(_Model):
    """Where and how the build is written."""

    dir: str = Field("out", description="Output root; the build goes to DIR/<name>/<build_id>/.")
    formats: list[Literal["parquet", "jsonl", "json", "hf"]] = Field(
        default_factory=lambda: ["parquet"],
        description="File formats of the splits; parquet is always written; jsonl adds JSON "
        "Lines, json a JSON array (the file type of LLaMA-Factory's demo data); hf adds a "
        "datasets save_to_disk copy in hf/ (load it with datasets.load_from_disk).",
    )
    license: str | None = Field(
        None, description="The license of the built data (an SPDX id such as apache-2.0), "
        "written into the dataset card's header."
    )
    cache: bool = Field(
        True, description="Reuse the load, normalize, boilerplate and dedup stages of an "
        "earlier build with the same inputs and sections from DIR/.cache/stages (safe to "
        "delete); the outputs are the same bytes either way."
    )


class Recipe(_Model):
    """A splitforge build recipe."""

    name: Annotated[str, Field(pattern=_NAME_PATTERN, max_length=MAX_NAME)] = Field(
        description="Names the output folder: letters, digits, '.', '_' and '-'."
    )
    seed: int = Field(0, description="The one seed every stage derives its randomness from.")
    sources: list[SourceConfig] = Field(min_length=1, description="One or more inputs.")
    fields: FieldsConfig = Field(
        default_factory=FieldsConfig, description="Which input fields hold the id, text, time, "
        "group and label (the text may come from each source's formatting instead)."
    )
    dedup: DedupConfig = Field(default_factory=DedupConfig, description="Duplicate removal.")
    boilerplate: BoilerplateConfig = Field(
        default_factory=BoilerplateConfig, description="Recurring spans (templates, system "
        "prompts, headers) left out of dedup, leak links and the audit."
    )
    split: SplitConfig = Field(default_factory=SplitConfig, description="The train/val/test "
                               "split.")
    challenge: ChallengeConfig | None = Field(
        None, description="Challenge sets from held-out rows; `challenge: {}` for the defaults."
    )
    control: SourceConfig | None = Field(
        None, description="A frozen control set: items the team knows well, mapped with "
        "`fields`. Always written as control.parquet (byte-identical while the file is "
        "unchanged), never in train/val/test, and their duplicates and near duplicates are "
        "removed from the data."
    )
    audit: AuditConfig = Field(default_factory=AuditConfig, description="Contamination audit "
                               "of the build's own eval data; the gate of the build.")
    output: OutputConfig = Field(default_factory=OutputConfig, description="Where and in which "
                                 "formats the build is written.")


# -- loading and validation --------------------------------------------------------------------


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the key at ``loc`` (used to suggest a misspelt key)."""
    model: Any = Recipe
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return None
        model = _unwrap_model(field.annotation)
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def _message(error: dict[str, Any]) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    path = _loc_to_path(loc) or "(recipe)"
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc)
        hint = ""
        if model is not None:
            valid = list(model.model_fields)
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(valid)}"
        return f"{path}: unknown key{hint}"
    if kind == "missing":
        return f"{path}: required key is missing"
    msg = error["msg"]
    msg = re.sub(r"^(Value|Assertion) error, ", "", msg)
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        close = difflib.get_close_matches(str(error.get("input")), choices, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        msg = f"{msg}, got {error.get('input')!r}{hint}"
    if kind == "string_pattern_mismatch" and loc == ("name",):
        msg = (f"must be letters, digits, '.', '_' or '-' (it names the output folder), "
               f"got {error.get('input')!r}")
    return f"{path}: {msg}"


def _cross_problems(recipe: Recipe) -> list[str]:
    """Checks that span sections, reported with the key that has to change."""
    problems = []
    formatted = [s.formatting is not None for s in recipe.sources]
    if recipe.fields.mapped and any(formatted):
        i = formatted.index(True)
        problems.append(f"sources[{i}].formatting: the formatting maps the text, so fields.text "
                        f"and fields.messages are not given; remove them, or the formatting")
    elif not recipe.fields.mapped and not all(formatted):
        i = formatted.index(False)
        problems.append(f"fields.text: sources[{i}] has no formatting, so name its text: "
                        f"fields.text (a field or template) or fields.messages (a chat list); "
                        f"or give every source a formatting (alpaca, sharegpt, openai, ...)")
    if recipe.control is not None and not recipe.fields.mapped and \
            recipe.control.formatting is None:
        problems.append("control.formatting: the sources' text comes from their formatting; "
                        "give the control set its formatting too")
    needs = {"temporal": "time", "stratified": "label", "group": "group"}
    role = needs.get(recipe.split.method)
    if role and getattr(recipe.fields, role) is None:
        problems.append(
            f"fields.{role}: split.method {recipe.split.method} needs fields.{role}; name the "
            f"input field that holds the {role}"
        )
    audit = recipe.audit
    if audit.against and audit.methods and audit.against_text is None and not recipe.fields.text:
        problems.append("audit.against_text: name the text field (or a template over fields) "
                        "of the audit.against files (fields.text is not set)")
    return problems


def validate_recipe(data: Any, source: str | Path | None = None, base: Path | None = None
                    ) -> Recipe:
    """Validate a recipe mapping; raise ``RecipeError`` listing every problem with its key path.

    ``base`` is the folder relative paths start from (a dataset_info file is read from there).
    """
    if not isinstance(data, dict):
        raise RecipeError(["(recipe): expected a mapping of keys such as name, sources, fields"],
                          source)
    try:
        recipe = Recipe.model_validate(data, context={"base": str(base) if base else None})
    except ValidationError as exc:
        problems = [_message(e) for e in exc.errors(include_url=False)]
        raise RecipeError(list(dict.fromkeys(problems)), source) from None
    problems = _cross_problems(recipe)
    if problems:
        raise RecipeError(problems, source)
    return recipe


def validate_fields(data: dict[str, Any]) -> FieldsConfig:
    """Validate a ``fields`` mapping on its own (for commands that take fields as options)."""
    try:
        return FieldsConfig.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        problems = [_message({**e, "loc": ("fields", *e["loc"])})
                    for e in exc.errors(include_url=False)]
        raise RecipeError(problems) from None


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys (``split.method``: ``random``) in a raw recipe mapping before validation."""
    for dotted, value in overrides.items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return data


class _RecipeLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping and very deep nesting."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor`: merged keys may be overridden, as YAML means
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, typing.Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping (lines {seen[key]} and "
                    f"{line}); YAML would silently keep the last, so keep one", key_node.start_mark)
            if isinstance(key, typing.Hashable):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep; a recipe needs a few",
                    mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# YAML 1.2 numbers that YAML 1.1 reads as text: 1e-3 and 8e-1 (no dot) are floats in a recipe.
_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def parse_scalar(text: str) -> Any:
    """A value given on the command line, read as the recipe's YAML reads it."""
    return yaml.load(text, Loader=_RecipeLoader)  # noqa: S506 (a safe loader)


def read_recipe_file(path: str | Path) -> dict[str, Any]:
    """Read a recipe YAML file into a mapping, with clear errors for a missing or broken file."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError([f"recipe file not found: {path}"], None)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_RecipeLoader)  # noqa: S506
    except RecursionError:
        raise RecipeError([f"nested more than {MAX_DEPTH} levels deep; a recipe needs a few"],
                          path) from None
    except UnicodeDecodeError as exc:
        raise RecipeError([f"not UTF-8 text ({exc.reason} at byte {exc.start})"], path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RecipeError([f"{where}invalid YAML: {problem}"], path) from None
    return data if data is not None else {}


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read, override and validate a recipe file; check that its sources exist.

    Every problem is reported at once: schema errors and missing source files together.
    """
    return check_recipe(read_recipe_file(path), Path(path).resolve().parent, path, overrides)


def check_recipe(data: Any, base: Path, path: str | Path | None = None,
                 overrides: dict[str, Any] | None = None) -> Recipe:
    """Override and validate a recipe mapping whose relative paths start at ``base``.

    As ``load_recipe``, for a recipe given as a mapping (the Python API); ``path`` names it in
    errors.
    """
    if overrides and isinstance(data, dict):
        data = apply_overrides(data, overrides)
    missing: list[str] = []
    seen: dict[Path, str] = {}
    sources = data.get("sources") or [] if isinstance(data, dict) else []
    control = data.get("control") if isinstance(data, dict) else None
    audit = data.get("audit") if isinstance(data, dict) else None
    listed = [(f"sources[{i}].path", src.get("path")) for i, src in enumerate(sources)
              if isinstance(src, dict)]
    if isinstance(control, dict):
        listed.append(("control.path", control.get("path")))
    if isinstance(audit, dict) and isinstance(audit.get("against"), list):
        listed += [(f"audit.against[{i}]", p) for i, p in enumerate(audit["against"])]
    for key, value in listed:
        if not isinstance(value, str):
            continue
        problem = path_problem(resolve_path(base, value), value)
        if problem:
            missing.append(f"{key}: {problem}")
            continue
        real = resolve_path(base, value).resolve()
        if real in seen and key.startswith("sources"):
            missing.append(f"{key}: {value} is listed twice (also {seen[real]}); list each file "
                           f"once")
        seen.setdefault(real, key)
    output = data.get("output") if isinstance(data, dict) else None
    out_dir = output.get("dir") if isinstance(output, dict) else None
    if isinstance(out_dir, str) and resolve_path(base, out_dir).exists() and not resolve_path(
            base, out_dir).is_dir():
        missing.append(f"output.dir: {out_dir} is a file, not a folder; builds are written "
                       f"into a folder there")
    try:
        recipe = validate_recipe(data, path, base)
    except RecipeError as exc:
        raise RecipeError(exc.problems + missing, path) from None
    if missing:
        raise RecipeError(missing, path)
    return recipe


def path_problem(path: Path, shown: str) -> str | None:
    """Why an input path cannot be read as a file or folder of data, or None when it can."""
    try:
        try:
            os.stat(path)
        except OSError as error:
            if error.errno == errno.ELOOP:
                return f"{shown} is a symbolic link loop (a link that points back to itself)"
        if not path.exists():
            if path.is_symlink():
                return f"{shown} is a broken symbolic link (its target does not exist)"
            if any(c in shown for c in "*?["):
                return (f"no such file or folder: {shown} (globs are not expanded; list each "
                        f"file, or give the folder that holds them)")
            return f"no such file or folder: {shown}"
        if not (path.is_file() or path.is_dir()):
            return (f"{shown} is not a regular file or a folder (a FIFO, socket or device would "
                    f"hang or change while it is read); copy the data into a file")
        if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
            return f"{shown} cannot be read (permission denied)"
    except OSError as error:  # a link loop, a name too long
        return f"{shown}: {error.strerror or error}"
    return None


def resolve_path(base: Path, value: str) -> Path:
    """A recipe path made absolute against the recipe's folder (``~`` expanded)."""
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else base / candidate


def recipe_schema() -> dict[str, Any]:
    """The JSON schema of the recipe, generated from the models."""
    return Recipe.model_json_schema()
