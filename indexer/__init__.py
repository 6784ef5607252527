"""newssearch's engine: normalization, analysis, ingest, index writing and searching."""

__version__ = "0.1.0"
