"""Random split by a seeded hash of each row's unit (its group, else its duplicate cluster)."""

from __future__ import annotations

from splitforge.split.base import SPLITTERS, Assignment, SplitFrame, Splitter


@SPLITTERS.register("random")
class RandomSplitter(Splitter):
    """Each unit goes to train if its seeded u < r.train, val if u < r.train + r.val, else test.

    Guarantees:
        A group (when mapped) and a duplicate cluster are in one split. A row's split depends only
        on the seed and its unit's key: adding rows never moves an existing row, and the input row
        order changes nothing. Shares follow the ratios up to binomial noise over units (under a
        percentage point at 10,000 units).
    """

    method = "random"

    def _assign(self, frame: SplitFrame) -> Assignment:
        _, inverse, u = self.unit_uniform(frame.units)
        return Assignment.from_codes(self.codes_by_threshold(u)[inverse])
