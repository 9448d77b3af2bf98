// name: basket_text_neighbours
// purpose: nearest products by text vector to each basket item (needs the vector index: see vector_index_state)
// parameters: $product_ids: list[str], $per_item: int = 10
// constants: $vector_index
// returns: basket_item, product_id
UNWIND $product_ids AS pid
MATCH (a:Product {id: pid})
WHERE a.embedding IS NOT NULL
CALL db.index.vector.queryNodes($vector_index, $per_item, a.embedding) YIELD node, score
WITH a, node
WHERE NOT node.id IN $product_ids
RETURN a.id AS basket_item, node.id AS product_id
