// kgrec 1 · customers with the most orders (copy an id into kgrec 0)
MATCH (u:User)-[:PLACED]->(o:Order)
RETURN u.id AS customer, count(o) AS orders, max(o.timestamp) AS last_order
ORDER BY orders DESC, customer
LIMIT 25
