// name: explain_page_users
// purpose: "customers like you" evidence for a page of candidates in one query: other customers who
// purpose: share purchases with the user (paths u-PURCHASED->x<-PURCHASED-v-PURCHASED->p), per candidate
// parameters: $user_id: str, $product_ids: list[str], $limit: int = 5
// returns: product_id, similar_users, max_overlap, buyers, top_users, shared_products, top_shared
// note: kgrec/serving/page_paths.py computes the same rows in memory; change both together
MATCH (u:User {id: $user_id})-[:PURCHASED]->(x:Product)<-[:PURCHASED]-(v:User)
WHERE v <> u
WITH v, collect(DISTINCT x) AS xs
WITH collect({v: v, xs: xs}) AS sims, collect(v) AS vs
UNWIND $product_ids AS pid
MATCH (p:Product {id: pid})<-[:PURCHASED]-(v:User)
WHERE v IN vs
WITH p, v, [x IN [s IN sims WHERE s.v = v][0].xs WHERE x <> p] AS xs
WHERE size(xs) > 0
WITH p, v, xs, size(xs) AS overlap
ORDER BY overlap DESC, v.id
WITH p, collect({user_id: v.id, overlap: overlap}) AS users, collect(xs) AS groups
CALL (groups) {
  UNWIND groups AS xs
  UNWIND xs AS x
  WITH x, count(*) AS freq
  ORDER BY freq DESC, x.id
  RETURN collect({product_id: x.id, title: x.title, users: freq}) AS shared
}
RETURN p.id AS product_id, size(users) AS similar_users, users[0].overlap AS max_overlap,
       COUNT { (p)<-[:PURCHASED]-() } AS buyers,
       users[..$limit] AS top_users, size(shared) AS shared_products, shared[..$limit] AS top_shared
