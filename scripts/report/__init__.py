"""quantpe.report: `quantpe report` (layer 7; imports layers 0-6).

`run` the main job and its table of sections; `cache` the per-step cache of the report; `studies`
the long studies and their stamps; one module per section: `approx`, `fxp`, `stripes`, `strum`,
`power` (energy), `plans`, `model` (models), `accel` (arrays and tiles). A section module
computes its figures as data (`*_figures`), writes its data files (`write_*_data`) and renders
its markdown (`*_markdown`) in separate functions; `*_report` runs the three.
"""
