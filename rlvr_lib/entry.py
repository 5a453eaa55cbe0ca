"""``python -m rlvr_lib.entry`` / ``rlvr-train``: the real-model entry point, where users type it (implementation in
``scale.entry``)."""

from rlvr_lib.scale.entry import main

if __name__ == "__main__":
    raise SystemExit(main())
