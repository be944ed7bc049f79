"""quantpe.core: the foundation every layer above uses (layer 1; imports `quantpe.golden` only).

`kinds` the registry of design kinds (config class, RTL, stimulus, golden outputs, plan);
`designs` the default design set; `limits` argument bounds; `build` the build cache's folders,
lock and source digests; `settings` this process's -j / -q; `jobs` `parallel_map` and progress;
`executor` the local pool or Dask cluster behind it; `local_cluster` a scheduler and workers
started for tests and benchmarks; `interrupt` ending a run on SIGINT / SIGTERM; `tools` finding
external tools; `tables` the CSV, Markdown and percent formatting of every table; `table_store`
the multiplier library's product tables in the build cache.
"""
