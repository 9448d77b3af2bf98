// name: user_history
// purpose: the products a user bought, most recent first, with how often and how many
// parameters: $user_id: str, $limit: int = 50
// returns: product_id, title, price, count, quantity, first, last
MATCH (u:User {id: $user_id})-[r:PURCHASED]->(p:Product)
RETURN p.id AS product_id, p.title AS title, p.price AS price,
       coalesce(r.count, 1) AS count, r.quantity AS quantity,
       toString(r.first) AS first, toString(r.last) AS last
ORDER BY r.last IS NULL, r.last DESC, count DESC, product_id
LIMIT $limit
