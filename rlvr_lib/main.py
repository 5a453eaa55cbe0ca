"""``python -m rlvr_lib.main``: the main job, where users type it (implementation in ``pipeline.main``)."""

from rlvr_lib.pipeline.main import main

if __name__ == "__main__":
    raise SystemExit(main())
