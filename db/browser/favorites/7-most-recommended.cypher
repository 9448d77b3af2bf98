// kgrec 7 · the most recommended products over all customers
MATCH (:User)-[rec:RECOMMENDED]->(p:Product)
RETURN p.id AS product, p.title AS title, count(*) AS customers, avg(rec.rank) AS mean_rank,
       collect(DISTINCT rec.model) AS models, max(rec.at) AS latest
ORDER BY customers DESC, mean_rank
LIMIT 20
