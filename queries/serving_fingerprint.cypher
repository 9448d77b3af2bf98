// name: serving_fingerprint
// purpose: counts and the newest order time, to tell whether a serving cache still matches the graph
// parameters:
// returns: users, products, orders, order_lines, purchased, rated, bought_with, in_category, newest_order
CALL () { MATCH (n:User) RETURN count(n) AS users }
CALL () { MATCH (n:Product) RETURN count(n) AS products }
CALL () { MATCH (n:Order) RETURN count(n) AS orders, max(n.timestamp) AS newest }
CALL () { MATCH ()-[r:CONTAINS]->() RETURN count(r) AS order_lines }
CALL () { MATCH ()-[r:PURCHASED]->() RETURN count(r) AS purchased }
CALL () { MATCH ()-[r:RATED]->() RETURN count(r) AS rated }
CALL () { MATCH ()-[r:BOUGHT_WITH]->() RETURN count(r) AS bought_with }
CALL () { MATCH ()-[r:IN_CATEGORY]->() RETURN count(r) AS in_category }
RETURN users, products, orders, order_lines, purchased, rated, bought_with, in_category,
       CASE WHEN newest IS NULL THEN 0 ELSE datetime(newest).epochSeconds END AS newest_order
