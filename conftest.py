"""Repository-wide pytest settings: benchmark scripts are run directly, not collected."""

collect_ignore = ["benchmarks"]
