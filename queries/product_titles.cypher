// name: product_titles
// purpose: titles and prices of a list of products (to label model output that carries only ids)
// parameters: $product_ids: list[str]
// returns: product_id, title, price
UNWIND $product_ids AS pid
MATCH (p:Product {id: pid})
RETURN p.id AS product_id, p.title AS title, p.price AS price
