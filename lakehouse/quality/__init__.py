"""The quality gate: Great Expectations suites run on staged rows before promotion."""
