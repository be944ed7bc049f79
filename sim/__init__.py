"""quantpe.sim: building and running simulations (toolchain, harness, runner, seeds, waves)."""
