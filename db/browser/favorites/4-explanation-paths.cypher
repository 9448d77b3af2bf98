// kgrec 4 · why the product suits the customer: the graph paths behind kgrec's reasons
MATCH (u:User {id: $user_id})
MATCH (target:Product {id: $product_id})
CALL (u, target) {
  MATCH path = (u)-[:PURCHASED]->(:Product)-[bw:BOUGHT_WITH]->(target)
  RETURN path ORDER BY bw.lift DESC LIMIT 3
  UNION
  MATCH (u)-[:PURCHASED]->(:Product)<-[:PURCHASED]-(other:User)-[:PURCHASED]->(target)
  WHERE other <> u
  WITH u, target, other, count(*) AS shared
  ORDER BY shared DESC, other.id
  LIMIT 2
  MATCH path = (u)-[:PURCHASED]->(:Product)<-[:PURCHASED]-(other)-[:PURCHASED]->(target)
  RETURN path LIMIT 6
  UNION
  MATCH path = (u)-[:PURCHASED]->(:Product)-[:IN_CATEGORY|MADE_BY|HAS_ATTRIBUTE]->()<-[:IN_CATEGORY|MADE_BY|HAS_ATTRIBUTE]-(target)
  RETURN path LIMIT 3
  UNION
  MATCH path = (u)-[:PURCHASED]->(:Product)<-[:INCLUDES]-(:Bundle)-[:INCLUDES]->(target)
  RETURN path LIMIT 3
  UNION
  MATCH path = (u)-[:HAS_ATTRIBUTE]->(:Attribute)<-[:HAS_ATTRIBUTE]-(target)
  RETURN path LIMIT 3
}
RETURN path
