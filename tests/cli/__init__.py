"""Tests of the command layer, one file per command module of src/ascendgen/cli/ (as pdm lays out tests/cli/)."""
