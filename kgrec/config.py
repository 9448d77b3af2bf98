"""The one typed settings object: ``KGREC_*`` environment variables, then a file, then CLI flags.

No other module reads ``os.environ``; everything that needs a setting receives it from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kgrec.kg.connection import Neo4jCredentials
from kgrec.kg.local_server import LocalNeo4j, ServerConfig


class Settings(BaseSettings):
    """Every knob of kgrec. Set ``KGREC_<NAME>`` (e.g. ``KGREC_NEO4J_URI``) or pass flags."""

    model_config = SettingsConfigDict(env_prefix="KGREC_", env_file=".kgrec.env", extra="ignore")

    state_dir: Path = Field(Path(".kgrec"), description="where the local server, runs and caches live")
    neo4j_uri: str | None = Field(None, description="an existing server; unset = the local one")
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr | None = None
    neo4j_database: str = "neo4j"
    bolt_port: int = 7687
    http_port: int = 7474
    neo4j_heap: str = "1g"
    neo4j_pagecache: str = "512m"
    batch_size: int = Field(5_000, ge=1, description="rows per UNWIND transaction")
    embedding_model: str | None = Field(None, description="sentence-transformer path; unset = packaged MiniLM")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 42

    @property
    def server_dir(self) -> Path:
        return self.state_dir / "neo4j"

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    def local_server(self) -> LocalNeo4j:
        """The project's own server (used when ``neo4j_uri`` is unset)."""
        return LocalNeo4j(
            ServerConfig(
                state_dir=self.server_dir,
                bolt_port=self.bolt_port,
                http_port=self.http_port,
                heap=self.neo4j_heap,
                pagecache=self.neo4j_pagecache,
            )
        )

    def credentials(self) -> Neo4jCredentials:
        """Credentials of the configured server: an explicit URI, else the local server's."""
        if self.neo4j_uri:
            password = self.neo4j_password.get_secret_value() if self.neo4j_password else ""
            return Neo4jCredentials(self.neo4j_uri, self.neo4j_user, password, self.neo4j_database)
        return self.local_server().credentials()

    def uses_local_server(self) -> bool:
        return not self.neo4j_uri


def torch_device(setting: str) -> str:
    """``cuda`` when asked for or available under ``auto``, else ``cpu``."""
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return setting
