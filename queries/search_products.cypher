// name: search_products
// purpose: full-text search over product titles and descriptions (Lucene syntax in $q)
// parameters: $q: str, $limit: int = 10
// constants: $fulltext_index
// returns: product_id, title, price, score
CALL db.index.fulltext.queryNodes($fulltext_index, $q, {limit: $limit}) YIELD node, score
RETURN node.id AS product_id, node.title AS title, node.price AS price, score
ORDER BY score DESC, product_id
LIMIT $limit
