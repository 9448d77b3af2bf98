// name: explain_page
// purpose: graph paths behind a page of recommendations for one user, all candidates in one query:
// purpose: co-purchases (u bought x, x BOUGHT_WITH p, among p's $links_per_product strongest links by lift),
// purpose: bundles with u's products or u's bundles,
// purpose: and shared category / brand / attribute / profile (same rows as the explain_* queries)
// parameters: $user_id: str, $product_ids: list[str], $limit: int = 5, $links_per_product: int = 100
// returns: product_id, title, copurchase [...], bundles [...], shared [...]
// note: kgrec/serving/page_paths.py computes the same rows from the serving layer's in-memory path index;
// note: change both together (tests/serving/test_page_paths.py compares them)
MATCH (u:User {id: $user_id})
WITH u, COLLECT { MATCH (u)-[pu:PURCHASED]->(x:Product) RETURN {x: x, c: pu.count} ORDER BY x.id } AS mine
WITH u, mine, [m IN mine | m.x] AS xs
UNWIND $product_ids AS pid
MATCH (p:Product {id: pid})
CALL (p, mine, xs) {
  MATCH (x:Product)-[r:BOUGHT_WITH]->(p)
  WHERE x <> p
  WITH x, r
  ORDER BY coalesce(r.lift, 0.0) DESC, coalesce(r.orders, 0) DESC, x.id
  LIMIT $links_per_product
  WITH x, r
  WHERE x IN xs
  WITH x, r, [m IN mine WHERE m.x = x][0].c AS c
  ORDER BY coalesce(r.lift, 0.0) DESC, coalesce(r.orders, 0) DESC, x.id
  LIMIT $limit
  RETURN collect({via_id: x.id, via_title: x.title, bought_count: coalesce(c, 1), lift: r.lift,
    confidence: r.confidence, support: r.support, orders: r.orders}) AS copurchase
}
CALL (u, p, xs) {
  OPTIONAL MATCH (b:Bundle)-[:INCLUDES]->(p)
  WITH b, CASE WHEN b IS NULL THEN [] ELSE
       COLLECT { MATCH (x:Product)<-[:INCLUDES]-(b) WHERE x IN xs AND x <> p RETURN x ORDER BY x.id } END AS bx,
       b IS NOT NULL AND EXISTS { (u)-[:INTERACTED_WITH]->(b) } AS interacted
  WHERE b IS NULL OR size(bx) > 0 OR interacted
  WITH b, bx, interacted
  ORDER BY size(bx) DESC, interacted DESC, b.id
  LIMIT $limit
  RETURN collect(CASE WHEN b IS NULL THEN null ELSE {bundle_id: b.id, bundle_title: b.title, source: b.source,
    bundle_size: COUNT { (b)-[:INCLUDES]->(:Product) }, owned: size(bx), interacted: interacted,
    via_ids: [x IN bx[..3] | x.id], via_titles: [x IN bx[..3] | x.title]} END) AS bundles
}
CALL (u, p, xs) {
  CALL (u, p, xs) {
    UNWIND xs AS x
    MATCH (x)-[:IN_CATEGORY]->(c:Category)<-[:IN_CATEGORY]-(p)
    WHERE x <> p
    RETURN 'category' AS kind, c.path AS shared_key, c.path AS shared_name, coalesce(c.level, 0) AS level, x
    UNION ALL
    UNWIND xs AS x
    MATCH (x)-[:MADE_BY]->(b:Brand)<-[:MADE_BY]-(p)
    WHERE x <> p
    RETURN 'brand' AS kind, b.name AS shared_key, b.name AS shared_name, 0 AS level, x
    UNION ALL
    UNWIND xs AS x
    MATCH (x)-[:HAS_ATTRIBUTE]->(a:Attribute)<-[:HAS_ATTRIBUTE]-(p)
    WHERE x <> p
    RETURN 'attribute' AS kind, a.key AS shared_key, coalesce(a.name + ' ' + a.value, a.key) AS shared_name,
           0 AS level, x
    UNION ALL
    MATCH (u)-[:HAS_ATTRIBUTE]->(a:Attribute)<-[:HAS_ATTRIBUTE]-(p)
    RETURN 'profile' AS kind, a.key AS shared_key, coalesce(a.name + ' ' + a.value, a.key) AS shared_name,
           0 AS level, null AS x
  }
  WITH kind, shared_key, shared_name, level, x
  ORDER BY x.id
  WITH kind, shared_key, shared_name, level, collect(DISTINCT x) AS sx
  ORDER BY size(sx) DESC, level DESC, kind, shared_key
  LIMIT $limit
  RETURN collect({kind: kind, shared_key: shared_key, shared_name: shared_name, level: level, products: size(sx),
    via_ids: [x IN sx[..3] | x.id], via_titles: [x IN sx[..3] | x.title]}) AS shared
}
RETURN p.id AS product_id, p.title AS title, copurchase, bundles, shared
