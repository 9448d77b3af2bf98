// name: product_popularity
// purpose: how many customers bought a product and its rank among all products (1 = most bought)
// parameters: $product_id: str
// returns: product_id, title, buyers, rank, products
MATCH (p:Product {id: $product_id})
WITH p, COUNT { (p)<-[:PURCHASED]-() } AS buyers
CALL (buyers) {
  MATCH (q:Product)
  WHERE COUNT { (q)<-[:PURCHASED]-() } > buyers
  RETURN count(q) AS ahead
}
RETURN p.id AS product_id, p.title AS title, buyers, ahead + 1 AS rank, COUNT { (:Product) } AS products
