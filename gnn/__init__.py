"""Learning and scoring on the knowledge graph: data, splits, models, training, evaluation."""

if __name__ != "kgrec.gnn":  # the folder is at the repository root, but it is only a part of kgrec
    raise ImportError("'gnn' is a subpackage of kgrec: import kgrec.gnn")
