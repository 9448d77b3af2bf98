// name: path_index_products
// purpose: what page explanations read about products, for the serving layer's path index (kgrec/serving/path_index.py):
// purpose: direct categories, brands, attributes, bundles and the strongest incoming co-purchase links
// purpose: (x -BOUGHT_WITH-> p, by lift, then orders, then id: the links explain_page reads)
// parameters: $product_ids: list[str], $links_per_product: int = 100
// returns: product_id, title, categories [[path, level]], brands, attributes [[key, name]], bundles, bought_with_into [[id, lift, confidence, support, orders]]
UNWIND $product_ids AS pid
MATCH (p:Product {id: pid})
RETURN p.id AS product_id, p.title AS title,
       COLLECT { MATCH (p)-[:IN_CATEGORY]->(c:Category) RETURN [c.path, coalesce(c.level, 0)] } AS categories,
       COLLECT { MATCH (p)-[:MADE_BY]->(b:Brand) RETURN b.name } AS brands,
       COLLECT { MATCH (p)-[:HAS_ATTRIBUTE]->(a:Attribute)
                 RETURN [a.key, coalesce(a.name + ' ' + a.value, a.key)] } AS attributes,
       COLLECT { MATCH (b:Bundle)-[:INCLUDES]->(p) RETURN b.id } AS bundles,
       COLLECT { MATCH (q:Product)-[r:BOUGHT_WITH]->(p) WHERE q <> p
                 RETURN [q.id, r.lift, r.confidence, r.support, r.orders]
                 ORDER BY coalesce(r.lift, 0.0) DESC, coalesce(r.orders, 0) DESC, q.id
                 LIMIT $links_per_product } AS bought_with_into
