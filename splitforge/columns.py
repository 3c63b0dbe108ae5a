"""Names of the columns splitforge adds to the table. Input fields keep their own names."""

ID = "sf_id"          # source id (with id_prefix), or a stable content hash; unique
TEXT = "sf_text"      # text compared for duplicates: a field, a template, or flattened messages
TIME = "sf_time"      # timestamp[us, UTC]; only when fields.time is mapped
GROUP = "sf_group"    # string; only when fields.group is mapped
LABEL = "sf_label"    # string; only when fields.label is mapped (a list: "a|b", sorted)
LABEL_JOIN = "|"      # between the labels of a multi-label row
SOURCE = "sf_source"  # the source path as written in the recipe
LINE = "sf_line"      # 1-based line (jsonl, csv) or record number (json, parquet, datasets)
NORM = "sf_norm"      # canonical text (NFKC, casefold, whitespace collapsed)
HASH = "sf_hash"      # uint64 hash of sf_norm
IDENTITY = "sf_identity"  # uint64 hash of what the trainer reads beyond sf_text; or absent
SIM = "sf_sim"        # sf_norm without boilerplate (normalize.boilerplate); only when some found
CLUSTER = "sf_cluster"  # duplicate cluster id: the id of the cluster's survivor
SPLIT = "sf_split"    # train / val / test
FOLD = "sf_fold"      # cross-validation fold of a train row (split.folds); null elsewhere
# Challenge items
SOURCE_ID = "sf_source_id"        # the held-out row an item comes from
CHALLENGE = "sf_challenge"        # edge / ood / temporal / adversarial
REASON = "sf_reason"              # the rule, slice or perturbation that chose the item
SCORE = "sf_score"                # the kind's score (OOD distance, IDF rarity), else null
PERTURBATION = "sf_perturbation"  # adversarial: the perturbation applied
SEED = "sf_seed"                  # adversarial: the item's seed (regenerates it alone)
EDIT_DISTANCE = "sf_edit_distance"  # adversarial: characters changed over the perturbed fields
ORIGINAL_TEXT = "sf_original_text"  # adversarial: sf_text before the perturbation

PREFIX = "sf_"
# Columns that only live inside a build and never reach an output file.
INTERNAL = (TEXT, LINE, NORM, HASH, SIM, IDENTITY)
