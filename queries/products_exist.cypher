// name: products_exist
// purpose: whether each of a list of product ids is in the graph (to reject unknown ids up front)
// parameters: $product_ids: list[str]
// returns: product_id, found
UNWIND $product_ids AS pid
OPTIONAL MATCH (p:Product {id: pid})
RETURN pid AS product_id, p IS NOT NULL AS found
