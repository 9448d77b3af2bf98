// name: explain_page
// purpose: graph paths behind a page of recommendations for one user, all candidates in one query:
// purpose: co-purchases (u bought x, x BOUGHT_WITH p), bundles with u's products or u's bundles,
// purpose: and shared category / brand / attribute / profile (same rows as the explain_* queries)
// parameters: $user_id: str, $product_ids: list[str], $limit: int = 5
// returns: product_id, title, copurchase [...], bundles [...], shared [...]
MATCH (u:User {id: $user_id})
UNWIND $product_ids AS pid
MATCH (p:Product {id: pid})
CALL (u, p) {
  OPTIONAL MATCH (u)-[pu:PURCHASED]->(x:Product)-[r:BOUGHT_WITH]->(p)
  WHERE x <> p
  WITH x, pu, r
  ORDER BY coalesce(r.lift, 0.0) DESC, coalesce(r.orders, 0) DESC, x.id
  LIMIT $limit
  RETURN collect(CASE WHEN x IS NULL THEN null ELSE {via_id: x.id, via_title: x.title,
    bought_count: coalesce(pu.count, 1), lift: r.lift, confidence: r.confidence, support: r.support,
    orders: r.orders} END) AS copurchase
}
CALL (u, p) {
  OPTIONAL MATCH (b:Bundle)-[:INCLUDES]->(p)
  WITH b, CASE WHEN b IS NULL THEN [] ELSE
       COLLECT { MATCH (u)-[:PURCHASED]->(x:Product)<-[:INCLUDES]-(b) WHERE x <> p RETURN x ORDER BY x.id } END AS xs,
       b IS NOT NULL AND EXISTS { (u)-[:INTERACTED_WITH]->(b) } AS interacted
  WHERE b IS NULL OR size(xs) > 0 OR interacted
  WITH b, xs, interacted
  ORDER BY size(xs) DESC, interacted DESC, b.id
  LIMIT $limit
  RETURN collect(CASE WHEN b IS NULL THEN null ELSE {bundle_id: b.id, bundle_title: b.title, source: b.source,
    bundle_size: COUNT { (b)-[:INCLUDES]->(:Product) }, owned: size(xs), interacted: interacted,
    via_ids: [x IN xs[..3] | x.id], via_titles: [x IN xs[..3] | x.title]} END) AS bundles
}
CALL (u, p) {
  CALL (u, p) {
    MATCH (u)-[:PURCHASED]->(x:Product)-[:IN_CATEGORY]->(c:Category)<-[:IN_CATEGORY]-(p)
    WHERE x <> p
    RETURN 'category' AS kind, c.path AS shared_key, c.path AS shared_name, coalesce(c.level, 0) AS level, x
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
  ORDER BY size(xs) DESC, level DESC, kind, shared_key
  LIMIT $limit
  RETURN collect({kind: kind, shared_key: shared_key, shared_name: shared_name, level: level, products: size(xs),
    via_ids: [x IN xs[..3] | x.id], via_titles: [x IN xs[..3] | x.title]}) AS shared
}
RETURN p.id AS product_id, p.title AS title, copurchase, bundles, shared
