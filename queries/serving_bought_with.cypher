// name: serving_bought_with
// purpose: the co-purchase neighbours of products (BOUGHT_WITH), strongest first, for serving-time lists
// parameters: $product_ids: list[str], $per_product: int = 50
// returns: product_id, neighbours [{product_id, confidence, lift, orders}]
UNWIND $product_ids AS pid
MATCH (a:Product {id: pid})
RETURN a.id AS product_id,
       COLLECT { MATCH (a)-[r:BOUGHT_WITH]->(b:Product) WHERE b <> a
                 RETURN {product_id: b.id, confidence: coalesce(r.confidence, 0.0), lift: r.lift, orders: r.orders}
                 ORDER BY coalesce(r.confidence, 0.0) DESC, b.id LIMIT $per_product } AS neighbours
