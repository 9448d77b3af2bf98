// name: user_summary
// purpose: one user's activity counts (also how the API tells a known user from an unknown one)
// parameters: $user_id: str
// returns: user_id, purchased, orders, rated, viewed, bundles, attributes
MATCH (u:User {id: $user_id})
RETURN u.id AS user_id,
       COUNT { (u)-[:PURCHASED]->(:Product) } AS purchased,
       COUNT { (u)-[:PLACED]->(:Order) } AS orders,
       COUNT { (u)-[:RATED]->(:Product) } AS rated,
       COUNT { (u)-[:VIEWED]->(:Product) } AS viewed,
       COUNT { (u)-[:INTERACTED_WITH]->(:Bundle) } AS bundles,
       COLLECT { MATCH (u)-[:HAS_ATTRIBUTE]->(a:Attribute) RETURN a.key ORDER BY a.key } AS attributes
