// kgrec 5 · the customer's top 5 recommendations, each with one co-purchase path when there is one
MATCH (u:User {id: $user_id})-[rec:RECOMMENDED]->(p:Product)
WITH u, rec, p
ORDER BY rec.rank
LIMIT 5
OPTIONAL MATCH why = (u)-[:PURCHASED]->(:Product)-[:BOUGHT_WITH]->(p)
WITH u, rec, p, why
ORDER BY length(why)
RETURN u, rec, p, collect(why)[0] AS why
