// name: explain_basket_page
// purpose: why each of a page of candidates completes a basket, all in one query (rows as explain_basket)
// parameters: $product_ids: list[str], $candidate_ids: list[str], $limit: int = 10
// returns: product_id, title, rows [{kind, via_id, via_title, lift, confidence, orders, shared_key, shared_name}]
UNWIND $candidate_ids AS pid
MATCH (p:Product {id: pid})
CALL (p) {
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
  WITH kind, x, lift, confidence, orders, shared_key, shared_name
  ORDER BY CASE kind WHEN 'copurchase' THEN 0 WHEN 'bundle' THEN 1 ELSE 2 END,
           coalesce(lift, 0.0) DESC, x.id, shared_key
  LIMIT $limit
  RETURN collect({kind: kind, via_id: x.id, via_title: x.title, lift: lift, confidence: confidence,
                  orders: orders, shared_key: shared_key, shared_name: shared_name}) AS rows
}
RETURN p.id AS product_id, p.title AS title, rows
