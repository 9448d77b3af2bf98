// name: bought_with
// purpose: co-purchase neighbours of a product, strongest association (lift) first
// parameters: $product_id: str, $limit: int = 10, $min_lift: float = 0.0
// returns: product_id, title, price, lift, confidence, support, orders
MATCH (p:Product {id: $product_id})-[r:BOUGHT_WITH]->(q:Product)
WHERE q <> p AND coalesce(r.lift, 0.0) >= $min_lift
RETURN q.id AS product_id, q.title AS title, q.price AS price,
       r.lift AS lift, r.confidence AS confidence, r.support AS support, r.orders AS orders
ORDER BY coalesce(r.lift, 0.0) DESC, coalesce(r.orders, 0) DESC, product_id
LIMIT $limit
