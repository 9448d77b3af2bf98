"""Named, parameterised Cypher files, their runner and the explanations built from them."""

if __name__ != "kgrec.queries":  # the folder is at the repository root, but it is only a part of kgrec
    raise ImportError("'queries' is a subpackage of kgrec: import kgrec.queries")
