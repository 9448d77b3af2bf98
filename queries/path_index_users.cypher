// name: path_index_users
// purpose: what page explanations read about users, for the serving layer's path index (kgrec/serving/path_index.py):
// purpose: purchases with their counts, profile attributes and the bundles they interacted with
// parameters: $user_ids: list[str]
// returns: user_id, purchased [[product_id, count]], attributes [[key, name]], bundles
UNWIND $user_ids AS uid
MATCH (u:User {id: uid})
RETURN u.id AS user_id,
       COLLECT { MATCH (u)-[r:PURCHASED]->(x:Product) RETURN [x.id, r.count] } AS purchased,
       COLLECT { MATCH (u)-[:HAS_ATTRIBUTE]->(a:Attribute)
                 RETURN [a.key, coalesce(a.name + ' ' + a.value, a.key)] } AS attributes,
       COLLECT { MATCH (u)-[:INTERACTED_WITH]->(b:Bundle) RETURN b.id } AS bundles
