"""Adversarial challenge items: held-out rows with seeded noise on their input fields.

Rows are taken in the order of a seeded hash of their id (so adding data does not reshuffle the
ones already chosen). Each row gets the next perturbation of ``challenge.adversarial.perturbations``
that applies to its script (Latin perturbations to non-CJK text, ``zh_*`` ones to CJK text); a
row whose perturbation left the text unchanged after every retry is skipped, never written as a
fake perturbation. Only the named input fields change (of a chat, its user turns); the reference
answer, the assistant turns and the label are copied
as they are; ``sf_original_text`` keeps the text before the perturbation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from splitforge import columns as C
from splitforge.challenge.base import CHALLENGES, ChallengeKind, ChallengePool, Picked
from splitforge.challenge.perturbations import get_perturbation, perturb_record
from splitforge.recipe import AdversarialConfig
from splitforge.seeding import stable_uniform
from splitforge.tables import take_table
from splitforge.templates import template_fields


def default_fields(text_template: str | None) -> list[str]:
    r"""The fields perturbed when the recipe names none: the first field of the text template.

    ``"{question}\\n{answer}"`` gives ``["question"]``: the prompt, never the reference answer.
    A chat field (``fields.messages``, a formatting's messages) is perturbed in its user turns.
    """
    if not text_template:
        return []
    return template_fields(text_template)[:1]


@CHALLENGES.register("adversarial")
class AdversarialChallenge(ChallengeKind):
    """Perturbed copies of held-out rows; each records its perturbation, seed and edit distance.

    Args:
        config: ``challenge.adversarial``.
        text_template: ``fields.text`` of the recipe (a field name or a template); without
            ``config.fields``, its first field is perturbed.
    """

    name = "adversarial"
    version: ClassVar[str] = "1"

    def __init__(self, config: AdversarialConfig, text_template: str | None) -> None:
        self.config = config
        self.template = text_template
        self.fields = list(config.fields) if config.fields else default_fields(text_template)
        self.perturbations = [get_perturbation(name) for name in config.perturbations]

    def check_fields(self, columns: Sequence[str]) -> list[str]:
        """Input fields to perturb that the data lacks, with the fields it has."""
        missing = [f for f in self.fields if f not in columns]
        if not missing:
            return []
        present = [c for c in columns if not c.startswith(C.PREFIX)]
        return [f"challenge.adversarial.fields: {', '.join(missing)} not in the data; its "
                f"fields: {', '.join(present)}"]

    def unavailable(self, pool: ChallengePool) -> str | None:
        """No input field to perturb."""
        return None if self.fields else "no input field to perturb; set " \
            "challenge.adversarial.fields"

    def _pick(self, pool: ChallengePool, n: int) -> Picked:
        if not self.fields:
            return Picked.empty({"skipped": "no input field to perturb; set "
                                            "challenge.adversarial.fields"})
        ids = pool.candidates.column(C.ID).to_pylist()
        order = np.lexsort((np.array(ids, dtype=object).astype(str),
                            stable_uniform(ids, pool.seed, "challenge", "adversarial")))
        selected = pool.candidates.select(list(dict.fromkeys(self.fields)))
        rows, reasons, extra = [], [], _empty_extra(self.fields)
        turn, skipped, not_applicable = 0, 0, 0
        for row, full in _records_in_order(selected, order):
            if len(rows) == n:
                break
            record, turns = _user_turns(full, self.fields)
            names = [n for f in self.fields for n in turns.get(f, [f])]
            texts = [record[f] for f in names]
            if not all(isinstance(t, str) for t in texts):
                not_applicable += 1
                continue
            usable = [p for p in self.perturbations
                      if any(p.applies_to(t) for t in texts)]
            if not usable:
                not_applicable += 1
                continue
            perturbation = usable[turn % len(usable)]
            done = perturb_record(record, names, perturbation, seed=pool.seed,
                                  source_id=ids[row])
            if done is None:
                skipped += 1
                continue
            turn += 1
            new_record, info = done
            rows.append(row)
            reasons.append(info.perturbation)
            for f in self.fields:
                extra[f].append(_with_turns(full[f], new_record, turns[f]) if f in turns
                                else new_record[f])
            extra[C.PERTURBATION].append(info.perturbation)
            extra[C.SEED].append(int(info.seed))
            extra[C.EDIT_DISTANCE].append(int(info.edit_distance))
        counts: dict[str, int] = {}
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
        return Picked(np.array(rows, dtype=np.int64), reasons, np.full(len(rows), np.nan),
                      info={"fields": self.fields, "perturbations": dict(sorted(counts.items())),
                            "skipped_unchanged": skipped, "not_applicable": not_applicable},
                      extra=extra)


_USER_ROLES = frozenset({"user", "human"})
_TURN = "{field}#turn{index}"


def _user_turns(record: dict[str, Any], fields: list[str]
                ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A chat field's user turns as text fields of their own (``messages#turn0``, ...).

    The assistant turns stay as they are: they are the reference answers. Returns the record with
    those fields added and, per chat field, their names.
    """
    out, turns = dict(record), {}
    for field in fields:
        messages = record.get(field)
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            continue
        names = []
        for i, message in enumerate(messages):
            role = message.get("role", message.get("from"))
            key = "content" if "content" in message else "value"
            if str(role).strip().lower() in _USER_ROLES and isinstance(message.get(key), str):
                name = _TURN.format(field=field, index=i)
                out[name] = message[key]
                names.append(name)
        turns[field] = names
    return out, turns


def _with_turns(messages: list[dict[str, Any]], record: dict[str, Any], names: list[str]
                ) -> list[dict[str, Any]]:
    """The chat with its user turns replaced by their perturbed text."""
    out = [dict(m) for m in messages]
    for name in names:
        index = int(name.rsplit("#turn", 1)[1])
        key = "content" if "content" in out[index] else "value"
        out[index][key] = record[name]
    return out


def _records_in_order(table: pa.Table, order: np.ndarray, chunk: int = 256
                      ) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row, record)`` in ``order``, converted to Python a chunk at a time.

    The picking loop usually stops after a few hundred rows of a large pool.
    """
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        yield from zip(part.tolist(), take_table(table, part).to_pylist(), strict=True)


def _empty_extra(fields: list[str]) -> dict[str, list[Any]]:
    extra: dict[str, list[Any]] = {f: [] for f in dict.fromkeys(fields)}
    extra.update({C.PERTURBATION: [], C.SEED: [], C.EDIT_DISTANCE: []})
    return extra
