// name: path_index_fingerprint
// purpose: counts beyond the serving fingerprint that page explanations read (bundles, brands, attributes)
// parameters:
// returns: bundles, includes, interacted_with, made_by, has_attribute
CALL () { MATCH (n:Bundle) RETURN count(n) AS bundles }
CALL () { MATCH ()-[r:INCLUDES]->() RETURN count(r) AS includes }
CALL () { MATCH ()-[r:INTERACTED_WITH]->() RETURN count(r) AS interacted_with }
CALL () { MATCH ()-[r:MADE_BY]->() RETURN count(r) AS made_by }
CALL () { MATCH ()-[r:HAS_ATTRIBUTE]->() RETURN count(r) AS has_attribute }
RETURN bundles, includes, interacted_with, made_by, has_attribute
