// name: user_item_edges
// purpose: every user→product purchase (the bundle GNN's user–item view)
// parameters:
// returns: user_id, product_id
MATCH (u:User)-[:PURCHASED]->(p:Product)
RETURN u.id AS user_id, p.id AS product_id
