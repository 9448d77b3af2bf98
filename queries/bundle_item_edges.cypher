// name: bundle_item_edges
// purpose: every bundle→product membership (the bundle GNN's bundle–item view)
// parameters:
// returns: bundle_id, product_id
MATCH (b:Bundle)-[:INCLUDES]->(p:Product)
RETURN b.id AS bundle_id, p.id AS product_id
