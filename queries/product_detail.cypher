// name: product_detail
// purpose: one product with its category paths (most specific first), brands, attributes and bundles
// parameters: $product_id: str
// returns: product_id, title, description, price, categories, brands, attributes, bundles, buyers
MATCH (p:Product {id: $product_id})
RETURN p.id AS product_id, p.title AS title, p.description AS description, p.price AS price,
       COLLECT { MATCH (p)-[:IN_CATEGORY]->(c:Category)
                 RETURN c.path ORDER BY coalesce(c.level, 0) DESC, c.path } AS categories,
       COLLECT { MATCH (p)-[:MADE_BY]->(b:Brand) RETURN b.name ORDER BY b.name } AS brands,
       COLLECT { MATCH (p)-[:HAS_ATTRIBUTE]->(a:Attribute)
                 RETURN a {.key, .name, .value, derived: coalesce(a.derived, false)} ORDER BY a.key } AS attributes,
       COLLECT { MATCH (b:Bundle)-[:INCLUDES]->(p) RETURN b.id ORDER BY b.id LIMIT 20 } AS bundles,
       COUNT { (p)<-[:PURCHASED]-() } AS buyers
