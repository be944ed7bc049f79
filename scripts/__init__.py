"""quantpe: hardware generator and verification harness for quantized-NN processing elements.

The map of the package. Each layer imports only from its own layer or lower (checked by
tests/test_import_graph.py, table in tests/import_graph.py); a function-level import of a
project module says why (`# lazy: ...`), and no module uses another's private names.

  layer        package             folder            what lives there
  0 golden     quantpe.golden      golden/           the bit-exact numpy model (numpy + stdlib at
                                                     module level): configs, integer rules, cycle
                                                     schedules, layers, graphs, models, ONNX I/O,
                                                     plan search; the atomic file writer
  1 core       quantpe.core        scripts/core/     registry of design kinds (`kinds`), default
                                                     designs, argument bounds, build-cache folders
                                                     and source digests (`build`), run settings,
                                                     `jobs.parallel_map` over the one executor
                                                     (local pool or Dask cluster), tool lookup,
                                                     interrupt handling, CSV/Markdown/percent text
  2 rtl, tb    quantpe.rtl         rtl/              Amaranth generators, Verilog + manifest
               quantpe.tb          tb/               cocotb benches, stimulus, scoreboard, plans
  3 synth      quantpe.synth       scripts/synth/    the one Yosys runner and version probe, the
                                                     liberty reader and sky130 lookup, power
                                                     tables, the bundled cell library, area flow
                                                     (cached), gate netlists, Verilog port reader
  4 sim        quantpe.sim         sim/              RTL simulators (harness, runner, capture,
                                                     regressions); sim.gate: the gate-level engine
  5 power      quantpe.power       scripts/power/    energy model, power measurement
  6 explore    quantpe.explore     scripts/explore/  multiplier characterisation, the approximate
                                                     variant sweep, plans, models, energy of plans
                                                     and arrays, pretrained-model fetch
  7 report     quantpe.report      scripts/report/   `quantpe report`: sections, studies, cache
  8 commands   quantpe.commands    scripts/commands/ command code (bench, model, plan, power, train)
               quantpe.cli         scripts/cli.py    the console entry point; nothing imports it
"""
