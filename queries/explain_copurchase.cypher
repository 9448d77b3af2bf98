// name: explain_copurchase
// purpose: why p for u — u bought x, and x is often bought with p (paths u-PURCHASED->x-BOUGHT_WITH->p)
// parameters: $user_id: str, $product_id: str, $limit: int = 5
// returns: via_id, via_title, bought_count, lift, confidence, support, orders
MATCH (u:User {id: $user_id})-[pu:PURCHASED]->(x:Product)-[r:BOUGHT_WITH]->(p:Product {id: $product_id})
WHERE x <> p
RETURN x.id AS via_id, x.title AS via_title, coalesce(pu.count, 1) AS bought_count,
       r.lift AS lift, r.confidence AS confidence, r.support AS support, r.orders AS orders
ORDER BY coalesce(r.lift, 0.0) DESC, coalesce(r.orders, 0) DESC, via_id
LIMIT $limit
