"""Learning and scoring on the knowledge graph: data, splits, models, training, evaluation."""
