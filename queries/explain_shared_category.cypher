// name: explain_shared_category
// purpose: why p for u — u bought products in p's category, of p's brand or with p's attributes,
// purpose: or u's own profile attributes match p's
// parameters: $user_id: str, $product_id: str, $limit: int = 5
// returns: kind (category|brand|attribute|profile), shared_key, shared_name, level, products, via_ids, via_titles
MATCH (u:User {id: $user_id}), (p:Product {id: $product_id})
CALL (u, p) {
  MATCH (u)-[:PURCHASED]->(x:Product)-[:IN_CATEGORY]->(c:Category)<-[:IN_CATEGORY]-(p)
  WHERE x <> p
  RETURN 'category' AS kind, c.path AS shared_key, c.path AS shared_name,
         coalesce(c.level, 0) AS level, x
  UNION ALL
  MATCH (u)-[:PURCHASED]->(x:Product)-[:MADE_BY]->(b:Brand)<-[:MADE_BY]-(p)
  WHERE x <> p
  RETURN 'brand' AS kind, b.name AS shared_key, b.name AS shared_name, 0 AS level, x
  UNION ALL
  MATCH (u)-[:PURCHASED]->(x:Product)-[:HAS_ATTRIBUTE]->(a:Attribute)<-[:HAS_ATTRIBUTE]-(p)
  WHERE x <> p
  RETURN 'attribute' AS kind, a.key AS shared_key, coalesce(a.name + ' ' + a.value, a.key) AS shared_name,
         0 AS level, x
  UNION ALL
  MATCH (u)-[:HAS_ATTRIBUTE]->(a:Attribute)<-[:HAS_ATTRIBUTE]-(p)
  RETURN 'profile' AS kind, a.key AS shared_key, coalesce(a.name + ' ' + a.value, a.key) AS shared_name,
         0 AS level, null AS x
}
WITH kind, shared_key, shared_name, level, collect(DISTINCT x) AS xs
RETURN kind, shared_key, shared_name, level, size(xs) AS products,
       [x IN xs[..3] | x.id] AS via_ids, [x IN xs[..3] | x.title] AS via_titles
ORDER BY products DESC, level DESC, kind, shared_key
LIMIT $limit
