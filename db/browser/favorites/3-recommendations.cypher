// kgrec 3 · the customer's stored recommendations (RECOMMENDED, best rank first)
MATCH (u:User {id: $user_id})-[rec:RECOMMENDED]->(p:Product)
RETURN u, rec, p
ORDER BY rec.rank
LIMIT 10
