// name: popular_products
// purpose: products bought by the most customers; with $user_id, leaves out what that user already bought
// parameters: $limit: int = 10, $user_id: str? = null
// returns: product_id, title, price, buyers, units
MATCH (p:Product)
WITH p, COUNT { (p)<-[:PURCHASED]-() } AS buyers
WHERE buyers > 0 AND ($user_id IS NULL OR NOT EXISTS { (:User {id: $user_id})-[:PURCHASED]->(p) })
WITH p, buyers
ORDER BY buyers DESC, p.id
LIMIT $limit
CALL (p) {
  MATCH (p)<-[r:PURCHASED]-()
  RETURN sum(coalesce(r.quantity, r.count, 1)) AS units
}
RETURN p.id AS product_id, p.title AS title, p.price AS price, buyers, units
ORDER BY buyers DESC, product_id
