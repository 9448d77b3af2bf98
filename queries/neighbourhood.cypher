// name: neighbourhood
// purpose: a node and up to $limit neighbours for the explorer; relationship types take turns so that
// purpose: a product's categories and co-purchases are not drowned by its thousands of orders
// parameters: $label: str, $id: str, $limit: int = 25
// returns: center {uid, id, label, caption}, nodes [{uid, id, label, caption}], edges [{source, target, type, properties}], degree
CALL () {
  MATCH (n:User {id: $id}) WHERE $label = 'User' RETURN n
  UNION
  MATCH (n:Product {id: $id}) WHERE $label = 'Product' RETURN n
  UNION
  MATCH (n:Category {path: $id}) WHERE $label = 'Category' RETURN n
  UNION
  MATCH (n:Brand {name: $id}) WHERE $label = 'Brand' RETURN n
  UNION
  MATCH (n:Attribute {key: $id}) WHERE $label = 'Attribute' RETURN n
  UNION
  MATCH (n:Order {id: $id}) WHERE $label = 'Order' RETURN n
  UNION
  MATCH (n:Bundle {id: $id}) WHERE $label = 'Bundle' RETURN n
}
WITH n LIMIT 1
CALL (n) {
  MATCH (n)-[r]-(m)
  WITH m, r ORDER BY startNode(r) = n DESC  // of a pair (BOUGHT_WITH both ways) keep the outgoing one
  WITH m, type(r) AS t, collect(r)[0] AS r
  WITH m, t, r, coalesce(r.lift, r.count, r.orders, r.rating, r.quantity, 0) AS weight
  ORDER BY weight DESC, elementId(m)
  WITH t, collect({m: m, r: r}) AS items
  UNWIND range(0, size(items) - 1) AS i
  WITH i, t, items[i] AS item
  ORDER BY i, CASE t WHEN 'BOUGHT_WITH' THEN 0 WHEN 'IN_CATEGORY' THEN 1 WHEN 'CHILD_OF' THEN 2
                     WHEN 'MADE_BY' THEN 3 WHEN 'INCLUDES' THEN 4 WHEN 'HAS_ATTRIBUTE' THEN 5
                     WHEN 'PURCHASED' THEN 6 ELSE 9 END, t
  LIMIT $limit
  RETURN collect(item) AS items
}
WITH n, items, COUNT { (n)--() } AS degree
UNWIND [{m: n, r: null}] + items AS item
WITH n, degree, item.m AS m, item.r AS r
WITH n, degree, m, r,
     [l IN labels(m) WHERE l IN ['User', 'Product', 'Category', 'Brand', 'Attribute', 'Order', 'Bundle']][0] AS label
WITH n, degree, m, r, label,
     CASE label WHEN 'Category' THEN m.path WHEN 'Brand' THEN m.name WHEN 'Attribute' THEN m.key ELSE m.id END AS key
WITH n, degree, m, r, {
       uid: label + ':' + key, id: key, label: label,
       caption: CASE label
         WHEN 'Product' THEN coalesce(m.title, m.id)
         WHEN 'Bundle' THEN coalesce(m.title, 'bundle ' + m.id)
         WHEN 'Category' THEN m.path
         WHEN 'User' THEN 'user ' + m.id
         WHEN 'Order' THEN 'order ' + m.id
         ELSE key END
     } AS node
WITH degree, collect({node: node, m: m, r: r}) AS rows
WITH degree, rows[0].node AS center, rows
RETURN center,
       reduce(acc = [], row IN rows | CASE WHEN row.node IN acc THEN acc ELSE acc + [row.node] END) AS nodes,
       [row IN rows[1..] | {
          source: CASE WHEN startNode(row.r) = row.m THEN row.node.uid ELSE center.uid END,
          target: CASE WHEN startNode(row.r) = row.m THEN center.uid ELSE row.node.uid END,
          type: type(row.r), properties: properties(row.r)
       }] AS edges,
       degree
