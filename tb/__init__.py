"""quantpe.tb: cocotb testbenches (drivers, monitors) and their numpy stimulus and scoreboard.

`stimulus` and `scoreboard` are plain numpy (importable without a simulator); the `*_test`
modules are cocotb test modules loaded by the simulator through quantpe.sim.runner.
"""
