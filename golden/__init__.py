"""quantpe.golden: the numpy reference model, the single source of truth for every bit.

Pure numpy (no Amaranth). RTL generators, testbenches, experiments and reports all call these
functions; no arithmetic rule is written twice anywhere else in the project.
"""
