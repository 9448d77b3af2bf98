// name: serving_order_lines_since
// purpose: order lines of orders placed after a time (the serving cache's incremental refresh)
// parameters: $since: int
// returns: user_id, order_id, product_id, ts
MATCH (o:Order)
WHERE o.timestamp > datetime({epochSeconds: $since})
MATCH (u:User)-[:PLACED]->(o)-[:CONTAINS]->(p:Product)
RETURN u.id AS user_id, o.id AS order_id, p.id AS product_id, datetime(o.timestamp).epochSeconds AS ts
ORDER BY ts, order_id, product_id
