// name: basket_bought_with
// purpose: co-purchase neighbours of the products in a basket (basket items left out), highest confidence first
// parameters: $product_ids: list[str], $limit: int = 200
// returns: basket_item, product_id, confidence, lift, orders
MATCH (a:Product)-[r:BOUGHT_WITH]->(c:Product)
WHERE a.id IN $product_ids AND NOT c.id IN $product_ids
RETURN a.id AS basket_item, c.id AS product_id, r.confidence AS confidence, r.lift AS lift, r.orders AS orders
ORDER BY r.confidence DESC, basket_item, product_id
LIMIT $limit
