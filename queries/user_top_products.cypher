// name: user_top_products
// purpose: a user's most purchased products (one row with a null product_id for a user without purchases;
// purpose: no row for an unknown user)
// parameters: $user_id: str, $limit: int = 20
// returns: product_id
MATCH (u:User {id: $user_id})
OPTIONAL MATCH (u)-[r:PURCHASED]->(p:Product)
RETURN p.id AS product_id
ORDER BY coalesce(r.count, 1) DESC, product_id
LIMIT $limit
