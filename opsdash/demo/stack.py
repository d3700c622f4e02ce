"""Bring the demo fleet up on loopback and tear every piece of it down again.

One :class:`DemoStack` owns a temp dir, a SecantusDB process, a never-answering listener, the Graph
API / Cloudinary / next-auth stand-ins and two SMTP servers. Leaving the ``with`` block (normally, on
an exception, or through the signal handlers the demo command installs) stops them all and removes
the temp dir.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from opsdash.demo.fleet import DEMO_TENANTS, DemoTenant, company_fields, deployment_env
from opsdash.fakes.authroute import FakeAuthRoute
from opsdash.fakes.cloudinary import FakeCloudinary
from opsdash.fakes.graph import FakeGraphAPI
from opsdash.fakes.smtp import FakeSMTPServer, StartTLSSMTPServer, TLSMaterial
from opsdash.fakes.tcp import HangingListener, closed_port
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import SecantusServer, database_url
from opsdash.testing.seed import seed_company

DEMO_POLL = {
    "db_interval": 5,
    "config_interval": 10,
    "integration_interval": 30,
    "db_timeout": 2,
    "integration_timeout": 5,
}


class DemoStack:
    """Every server and file of the demo fleet; use as a context manager."""

    def __init__(self, tenants: tuple[DemoTenant, ...] = DEMO_TENANTS) -> None:
        self.tenants = tenants
        self.workdir: Path | None = None
        self.config_path: Path | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> DemoStack:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop every server and remove the temp dir; safe to call twice."""
        try:
            self._stack.close()
        finally:
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)
                self.workdir = None

    def _enter(self, server: Any) -> Any:
        server.start()
        self._stack.callback(server.stop)
        return server

    def _start(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="opsdash-demo-"))
        mongo = SecantusServer(log_path=self.workdir / "secantus.log")
        mongo.start()
        self._stack.callback(mongo.stop)
        hanging = self._enter(HangingListener())
        down_port = closed_port()

        tls = TLSMaterial()
        ca_file = self.workdir / "demo-ca.pem"
        ca_file.write_bytes(tls.ca_pem)
        graph = self._enter(FakeGraphAPI())
        cloudinary = self._enter(FakeCloudinary())
        auth = self._enter(FakeAuthRoute(tls_context=tls.server_context()))
        users = {f"{t.name}@mail.example": f"demo-smtp-pass-{t.name}" for t in self.tenants}
        smtp_ok = self._enter(StartTLSSMTPServer(users, tls=tls))
        smtp_refusing = self._enter(
            FakeSMTPServer(starttls_context=tls.server_context(), auth_mode="reject", ca_pem=tls.ca_pem)
        )

        files: list[TenantFiles] = []
        clouds: set[str] = set()
        for tenant in self.tenants:
            smtp = smtp_refusing if tenant.smtp == "refuses_auth" else smtp_ok
            smtp_host, smtp_port = smtp.address
            healthy = company_fields(
                replace(tenant, company_overrides={}),
                auth_origin=auth.url,
                smtp_host=smtp_host,
                smtp_port=smtp_port,
            )
            fields = company_fields(tenant, auth_origin=auth.url, smtp_host=smtp_host, smtp_port=smtp_port)
            database = f"demo_{tenant.name.replace('-', '_')}"
            if tenant.db == "down":
                url = f"mongodb://127.0.0.1:{down_port}/{database}?directConnection=true"
            elif tenant.db == "hang":
                host, port = hanging.address
                url = f"mongodb://{host}:{port}/{database}?directConnection=true"
            else:
                url = database_url(mongo.url, database)
                seed_company(url, database, *([fields] * tenant.company_count))
            self._register_services(tenant, healthy, graph, cloudinary, clouds)
            files.append(
                TenantFiles(tenant.name, None, deployment_env(tenant, url, healthy), tags=tenant.tags)
            )

        self.config_path = write_fleet(
            self.workdir,
            files,
            tables={
                "poll": DEMO_POLL,
                "endpoints": {
                    "graph_api": graph.url,
                    "cloudinary_api": cloudinary.url,
                    "extra_ca_file": str(ca_file),
                },
                "state": {"dir": str(self.workdir / "state")},
            },
        )

    @staticmethod
    def _register_services(
        tenant: DemoTenant,
        healthy: dict[str, Any],
        graph: FakeGraphAPI,
        cloudinary: FakeCloudinary,
        clouds: set[str],
    ) -> None:
        token = healthy["whatsappPermanentToken"]
        graph.add_number(
            tenant.phone_number_id,
            token=token,
            app_secret=healthy["whatsappAppSecret"],
            app_id=f"77000000000000{tenant.index:02d}",
        )
        if tenant.token_expired:
            graph.expire_token(token)
        if tenant.cloud_name not in clouds:
            clouds.add(tenant.cloud_name)
            cloudinary.add_cloud(
                tenant.cloud_name,
                healthy["cloudinaryApiKey"],
                healthy["cloudinaryApiSecret"],
                presets=[healthy["cloudinaryUploadPreset"]],
            )
