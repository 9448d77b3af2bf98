// name: product_facts
// purpose: what basket completion and bundle composition weigh per product: price, stock, text vector,
// purpose: category paths and [name, value] attribute pairs
// parameters: $product_ids: list[str]
// returns: product_id, title, price, in_stock, vector, categories, attributes
UNWIND $product_ids AS pid
MATCH (c:Product {id: pid})
OPTIONAL MATCH (c)-[:IN_CATEGORY]->(cat:Category)
OPTIONAL MATCH (c)-[:HAS_ATTRIBUTE]->(at:Attribute)
RETURN c.id AS product_id, c.title AS title, c.price AS price, c.in_stock AS in_stock, c.embedding AS vector,
       collect(DISTINCT cat.path) AS categories, collect(DISTINCT [at.name, toString(at.value)]) AS attributes
