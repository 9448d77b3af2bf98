// kgrec 6 · the product: category, brand, attributes, bundles and its strongest co-purchases
MATCH (p:Product {id: $product_id})
CALL (p) {
  MATCH path = (p)-[:IN_CATEGORY|MADE_BY|HAS_ATTRIBUTE]->()
  RETURN path
  UNION
  MATCH path = (:Bundle)-[:INCLUDES]->(p)
  RETURN path LIMIT 10
  UNION
  MATCH path = (p)-[bw:BOUGHT_WITH]->(:Product)
  RETURN path ORDER BY bw.lift DESC LIMIT 10
}
RETURN path
