// kgrec 8 · the graph schema (labels and relationship types actually present)
CALL db.schema.visualization()
