"""Vulture whitelist: names that frameworks use, so vulture cannot see a caller.

Vulture only reads this file (``[tool.vulture] paths`` in pyproject.toml); it is never imported.
Each line names an attribute of ``_`` so that vulture counts the name as used:

* FastAPI routes and exception handlers are registered by decorators in ``kgrec/api.py``;
* typer commands are registered by ``@app.command`` in ``kgrec/cli/*.py``;
* Protocol parameters name the arguments of the implementations (``gnn/bundles.py``);
* pydantic reads ``model_config``; benchmarks and tests call the Settings server helpers.
"""

# ruff: noqa: B018
from typing import Any

_: Any = None

# kgrec/api.py: routes (@app.get / @app.post) and exception handlers (@app.exception_handler)
_.index
_.health
_.overview
_.neighbourhood
_.search
_.popular
_.product
_.similar
_.user
_.history
_.recommendations
_.session
_.score
_.explain_one
_.complete
_.user_bundles
_.compose
_.kgrec_error
_.neo4j_down
_.bad_request
_.lifespan

# kgrec/cli/*.py: typer commands
_.db_start
_.db_stop
_.db_status
_.stats
_.ingest
_.sample_build
_.basket_complete
_.bundles_recommend
_.bundles_compose
_.bundles_mine
_.serve
_.explain_cmd
_.query_cmd
_.demo

# gnn/bundles.py: ProductScorer.score_products(anchor_items, candidate_items) is a Protocol signature
_.anchor_items
_.candidate_items

# kgrec/config.py: read by pydantic-settings; server helpers called by tests/conftest.py and bench/common.py
_.model_config
_.test_server
_.test_credentials
_.bench_server
