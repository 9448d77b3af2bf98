"""Any source → canonical records → validated rows written in batches, rejected rows quarantined."""

if __name__ != "kgrec.ingest":  # the folder is at the repository root, but it is only a part of kgrec
    raise ImportError("'ingest' is a subpackage of kgrec: import kgrec.ingest")
