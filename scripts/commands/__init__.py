"""quantpe.commands: command code (layer 8, with `quantpe.cli`; nothing in the package imports it).

`design_args` the DESIGN arguments every command shares; `bench`, `bench_onnx`, `model_cli`,
`plan_cli`, `power_cli`, `train_cli` one command each (parser and run).
"""
