// name: graph_overview
// purpose: node counts per label and relationship counts per type (from the count store: fast)
// parameters:
// returns: nodes {label: count}, relationships {type: count}
RETURN {
  User: COUNT { (:User) }, Product: COUNT { (:Product) }, Category: COUNT { (:Category) },
  Brand: COUNT { (:Brand) }, Attribute: COUNT { (:Attribute) }, Order: COUNT { (:Order) },
  Bundle: COUNT { (:Bundle) }
} AS nodes, {
  PLACED: COUNT { ()-[:PLACED]->() }, CONTAINS: COUNT { ()-[:CONTAINS]->() },
  PURCHASED: COUNT { ()-[:PURCHASED]->() }, RATED: COUNT { ()-[:RATED]->() },
  VIEWED: COUNT { ()-[:VIEWED]->() }, ADDED_TO_CART: COUNT { ()-[:ADDED_TO_CART]->() },
  IN_CATEGORY: COUNT { ()-[:IN_CATEGORY]->() }, CHILD_OF: COUNT { ()-[:CHILD_OF]->() },
  MADE_BY: COUNT { ()-[:MADE_BY]->() }, HAS_ATTRIBUTE: COUNT { ()-[:HAS_ATTRIBUTE]->() },
  INCLUDES: COUNT { ()-[:INCLUDES]->() }, INTERACTED_WITH: COUNT { ()-[:INTERACTED_WITH]->() },
  BOUGHT_WITH: COUNT { ()-[:BOUGHT_WITH]->() }, RECOMMENDED: COUNT { ()-[:RECOMMENDED]->() }
} AS relationships
