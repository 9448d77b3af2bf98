// name: bundle_catalogue
// purpose: every bundle with its items and how many users interacted with it
// parameters:
// returns: bundle_id, title, source, items, users
MATCH (b:Bundle)-[:INCLUDES]->(p:Product)
OPTIONAL MATCH (b)<-[r:INTERACTED_WITH]-(:User)
RETURN b.id AS bundle_id, b.title AS title, b.source AS source, collect(DISTINCT p.id) AS items,
       count(DISTINCT r) AS users
ORDER BY bundle_id
