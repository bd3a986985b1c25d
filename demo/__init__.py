"""``make demo``: the SDK at work against the in-memory reference backend."""
