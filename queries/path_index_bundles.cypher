// name: path_index_bundles
// purpose: every bundle with its products, for the serving layer's path index (kgrec/serving/path_index.py)
// parameters:
// returns: bundle_id, title, source, products
MATCH (b:Bundle)
RETURN b.id AS bundle_id, b.title AS title, b.source AS source,
       COLLECT { MATCH (b)-[:INCLUDES]->(p:Product) RETURN p.id } AS products
ORDER BY bundle_id
