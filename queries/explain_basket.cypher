// name: explain_basket
// purpose: why p completes a basket — co-purchased with, bundled with, or same category as basket items
// parameters: $product_ids: list[str], $product_id: str, $limit: int = 10
// returns: kind (copurchase|bundle|category), via_id, via_title, lift, confidence, orders, shared_key, shared_name
MATCH (p:Product {id: $product_id})
CALL (p) {
  MATCH (x:Product)-[r:BOUGHT_WITH]->(p)
  WHERE x.id IN $product_ids AND x <> p
  RETURN 'copurchase' AS kind, x, r.lift AS lift, r.confidence AS confidence, r.orders AS orders,
         null AS shared_key, null AS shared_name
  UNION ALL
  MATCH (x:Product)<-[:INCLUDES]-(b:Bundle)-[:INCLUDES]->(p)
  WHERE x.id IN $product_ids AND x <> p
  RETURN 'bundle' AS kind, x, null AS lift, null AS confidence, null AS orders,
         b.id AS shared_key, coalesce(b.title, b.id) AS shared_name
  UNION ALL
  MATCH (x:Product)-[:IN_CATEGORY]->(c:Category)<-[:IN_CATEGORY]-(p)
  WHERE x.id IN $product_ids AND x <> p
  RETURN 'category' AS kind, x, null AS lift, null AS confidence, null AS orders,
         c.path AS shared_key, c.path AS shared_name
}
RETURN kind, x.id AS via_id, x.title AS via_title, lift, confidence, orders, shared_key, shared_name
ORDER BY CASE kind WHEN 'copurchase' THEN 0 WHEN 'bundle' THEN 1 ELSE 2 END,
         coalesce(lift, 0.0) DESC, via_id, shared_key
LIMIT $limit
