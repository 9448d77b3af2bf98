// name: user_bundle_edges
// purpose: every user→bundle interaction (what the bundle GNN learns to predict)
// parameters:
// returns: user_id, bundle_id
MATCH (u:User)-[:INTERACTED_WITH]->(b:Bundle)
RETURN u.id AS user_id, b.id AS bundle_id
