"""The synthetic council: landing extracts that follow the landing contract, for the demo, the
tests and the benchmark (`council.generate`), calibrated to the DfE's published statistics
(`calibration` derives the targets; the generator never imports it). Plain library: no Dagster
import.
"""
