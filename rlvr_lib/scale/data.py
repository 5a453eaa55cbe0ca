"""Real math data for the scale-out path: DeepScaleR and MATH-500 by hub name, or local files in the same schema.

Both datasets have a ``problem`` column (the question) and an ``answer`` column (the final answer, LaTeX).
A named PROMPT TEMPLATE turns a problem into the model's prompt; its name is recorded with every run, since
the base model's score depends on it (Qwen2.5-Math-7B on MATH-500 is reported at 49.4 with one template and
69.0 with none, Shao et al. 2506.10947).

Local files (``.jsonl``, ``.json``, ``.parquet``) are read with the same code path as the hub datasets, which
is how the tests exercise it: no dataset can be downloaded on machines without a hub connection.
"""

from __future__ import annotations

from pathlib import Path

from rlvr_lib._checks import ConfigError, check_choice

DATASETS = {
    "deepscaler": {"hub": "agentica-org/DeepScaleR-Preview-Dataset", "split": "train"},
    "math500": {"hub": "HuggingFaceH4/MATH-500", "split": "test"},
}
REQUIRED_COLUMNS = ("problem", "answer")

QWEN_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
TEMPLATES = {
    # chat template of the model with Qwen2.5-Math's system prompt (the usual RLVR setting)
    "qwen_math_chat": "chat",
    # the problem alone, no template at all (the 'no template' baseline of Shao et al.)
    "none": "{problem}",
    # a plain-text instruction without chat markup
    "plain_boxed": "{problem}\nPlease reason step by step, and put your final answer within \\boxed{{}}.\n",
    # the tiny testbed: the prompt is the problem text itself (e.g. '147+38=')
    "task": "{problem}",
}


def check_source(source: str) -> str:
    """A dataset name of DATASETS or a path to a local .jsonl / .json / .parquet file."""
    if source in DATASETS:
        return source
    p = Path(source)
    if p.suffix not in (".jsonl", ".json", ".parquet"):
        raise ConfigError(
            f"dataset must be one of {sorted(DATASETS)} or a local .jsonl/.json/.parquet file, got {source!r}"
        )
    if not p.exists():
        raise ConfigError(f"dataset file {source!r} does not exist")
    return source


def load_raw(source: str, split: str | None = None, limit: int | None = None):
    """The raw `datasets.Dataset` for a named hub dataset or a local file, with its columns checked."""
    from datasets import load_dataset

    check_source(source)
    if source in DATASETS:
        spec = DATASETS[source]
        ds = load_dataset(spec["hub"], split=split or spec["split"])
    else:
        fmt = "parquet" if source.endswith(".parquet") else "json"
        ds = load_dataset(fmt, data_files=str(source), split="train")
    missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise ConfigError(
            f"dataset {source!r} lacks column(s) {missing}; it has {ds.column_names}; "
            f"required: {list(REQUIRED_COLUMNS)}"
        )
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    return ds


def check_columns_of_file(source: str) -> None:
    """Check a local file's columns cheaply (first row only), before anything heavy is loaded."""
    import json

    if source in DATASETS:
        return
    if source.endswith(".parquet"):
        import pyarrow.parquet as pq

        cols = pq.read_schema(source).names
    else:
        text = Path(source).read_text()
        first = json.loads(text.splitlines()[0]) if source.endswith(".jsonl") else json.loads(text)[0]
        cols = list(first)
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise ConfigError(
            f"dataset {source!r} lacks column(s) {missing}; it has {cols}; required: {list(REQUIRED_COLUMNS)}"
        )


def apply_template(ds, template: str):
    """Add the `prompt` column: a string for text templates, a conversation for 'qwen_math_chat' (TRL then
    applies the model's own chat template)."""
    check_choice("template", template, TEMPLATES)
    if TEMPLATES[template] == "chat":
        fn = lambda r: {
            "prompt": [{"role": "system", "content": QWEN_MATH_SYSTEM}, {"role": "user", "content": r["problem"]}]
        }
    else:
        fn = lambda r: {"prompt": TEMPLATES[template].format(problem=r["problem"])}
    return ds.map(fn)
