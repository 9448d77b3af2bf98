"""Knowledge graph layer: schema, Neo4j connection, local server control, export, embeddings.

``kg`` imports nothing else of kgrec; every other package builds on it.
"""
