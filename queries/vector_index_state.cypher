// name: vector_index_state
// purpose: the state of the product text vector index (ONLINE once usable; no row when it does not exist)
// parameters:
// constants: $vector_index
// returns: state
SHOW INDEXES YIELD name, state
WHERE name = $vector_index
RETURN state
