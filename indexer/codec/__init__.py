"""The index codec: everything that reads or writes Whoosh's files through whoosh3 3.54.0's internals.

Re-check every module here when Whoosh is upgraded (the version is pinned in pyproject.toml):
`segment_writer` writes whole segments and commits them with one TOC, `segment_join` makes the
parts a run's workers wrote one segment, `segment_merge` rewrites segments as one, `stored` compresses
stored fields, `arrays` reads length columns, term tables and posting blocks into numpy arrays.
`indexer.postings` belongs here too but stays where it is: its `PackedValues` is pickled by path into
every posting block (as `indexer.schema` and `indexer.analysis` are into every TOC).
"""
