// name: user_bundles
// purpose: the bundles a user interacted with
// parameters: $user_id: str
// returns: bundle_id
MATCH (:User {id: $user_id})-[:INTERACTED_WITH]->(b:Bundle)
RETURN b.id AS bundle_id
ORDER BY bundle_id
