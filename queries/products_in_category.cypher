// name: products_in_category
// purpose: which of a list of products sit in a category or any of its sub-categories
// parameters: $product_ids: list[str], $category: str
// returns: product_id
UNWIND $product_ids AS pid
MATCH (c:Product {id: pid})
WHERE EXISTS { MATCH (c)-[:IN_CATEGORY]->(:Category)-[:CHILD_OF*0..]->(:Category {path: $category}) }
RETURN c.id AS product_id
