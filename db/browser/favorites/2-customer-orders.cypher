// kgrec 2 · the customer, their last 10 orders and what was in them
MATCH (u:User {id: $user_id})-[placed:PLACED]->(o:Order)
WITH u, placed, o
ORDER BY o.timestamp DESC
LIMIT 10
MATCH (o)-[line:CONTAINS]->(p:Product)
RETURN u, placed, o, line, p
