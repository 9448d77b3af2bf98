// name: explain_bundle
// purpose: why p for u — p is in a bundle with something u bought, or in a bundle u interacted with
// parameters: $user_id: str, $product_id: str, $limit: int = 5
// returns: bundle_id, bundle_title, source, bundle_size, owned, interacted, via_ids, via_titles
MATCH (u:User {id: $user_id}), (p:Product {id: $product_id})
MATCH (b:Bundle)-[:INCLUDES]->(p)
WITH u, p, b,
     COLLECT { MATCH (u)-[:PURCHASED]->(x:Product)<-[:INCLUDES]-(b) WHERE x <> p
               RETURN x ORDER BY x.id } AS xs,
     EXISTS { (u)-[:INTERACTED_WITH]->(b) } AS interacted
WHERE size(xs) > 0 OR interacted
RETURN b.id AS bundle_id, b.title AS bundle_title, b.source AS source,
       COUNT { (b)-[:INCLUDES]->(:Product) } AS bundle_size, size(xs) AS owned, interacted,
       [x IN xs[..3] | x.id] AS via_ids, [x IN xs[..3] | x.title] AS via_titles
ORDER BY owned DESC, interacted DESC, bundle_size, bundle_id
LIMIT $limit
