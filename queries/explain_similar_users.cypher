// name: explain_similar_users
// purpose: why p for u — other customers who bought what u bought also bought p
// purpose: (paths u-PURCHASED->x<-PURCHASED-v-PURCHASED->p, counted per v and per x)
// parameters: $user_id: str, $product_id: str, $limit: int = 5
// returns: similar_users, max_overlap, buyers, top_users [{user_id, overlap}], shared_products, top_shared [{product_id, title, users}]
MATCH (u:User {id: $user_id})-[:PURCHASED]->(x:Product)<-[:PURCHASED]-(v:User)-[:PURCHASED]->(p:Product {id: $product_id})
WHERE v <> u AND x <> p
WITH p, v, collect(DISTINCT x) AS xs
WITH p, v, xs, size(xs) AS overlap
ORDER BY overlap DESC, v.id
WITH p, collect({user_id: v.id, overlap: overlap}) AS users, collect(xs) AS groups
UNWIND groups AS xs
UNWIND xs AS x
WITH p, users, x, count(*) AS freq
ORDER BY freq DESC, x.id
WITH p, users, collect({product_id: x.id, title: x.title, users: freq}) AS shared
RETURN size(users) AS similar_users, users[0].overlap AS max_overlap,
       COUNT { (p)<-[:PURCHASED]-() } AS buyers,
       users[..$limit] AS top_users, size(shared) AS shared_products, shared[..$limit] AS top_shared
