"""quantpe.explore: design-space exploration (layer 6; imports layers 0-5).

`characterize` exhaustive multiplier characterisation (golden and RTL, banked) and external
units; `approx_sweep` the approximate-multiplier variants and the exact-reference rule; `plans`
per-layer plans (candidates, costs, the plan file, the search methods); `models` a model named on
the command line; `plan_energy` pJ per multiplication on a layer's own operands; `array_energy`
PE arrays on a mapped layer's trace; `model_fetch` pretrained ONNX models from pinned wheels.
"""
