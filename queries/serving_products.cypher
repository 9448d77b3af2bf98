// name: serving_products
// purpose: price, stock flag and categories (with their ancestors) of products, for serving-time filters
// parameters: $product_ids: list[str]
// returns: product_id, title, price, in_stock, direct, categories, vector
UNWIND $product_ids AS pid
MATCH (p:Product {id: pid})
RETURN p.id AS product_id, p.title AS title, p.price AS price, p.in_stock AS in_stock,
       COLLECT { MATCH (p)-[:IN_CATEGORY]->(c:Category) RETURN c.path } AS direct,
       COLLECT { MATCH (p)-[:IN_CATEGORY]->(:Category)-[:CHILD_OF*0..]->(c:Category)
                 RETURN DISTINCT c.path } AS categories,
       p.embedding AS vector
