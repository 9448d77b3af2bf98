"""Knowledge graph layer: schema, Neo4j connection, local server control, export, embeddings.

``kgrec.kg`` imports nothing else of kgrec; every other package builds on it.
"""

if __name__ != "kgrec.kg":  # the folder is at the repository root, but it is only a part of kgrec
    raise ImportError("'kg' is a subpackage of kgrec: import kgrec.kg")
