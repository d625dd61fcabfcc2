"""JT/T 808 registration and authentication on pooled connections, through a database restart.

The pool (ingest/tcp/jt808.py) replaced a connection per check; it must keep what the per-check connection
gave: a terminal that authenticated before an outage is believed by the code it last used while the database is
down (a wrong code is not), and once the database is back the pool's dead connections are replaced, not used.
"""

from __future__ import annotations

from ingest.decoders import Limits
from ingest.directory import build_directory
from ingest.protocols.jt808 import RegisterResult
from ingest.tcp.jt808 import Jt808Protocol
from ingest.tcp.protocol import ProtocolContext
from tests.support.ingest import prepare_database
from tests.support.postgres import PrivateCluster

PHONE = "13805710002"


def test_codes_checked_on_pooled_connections_survive_a_database_restart(private_postgres: PrivateCluster) -> None:
    url = private_postgres.url
    prepare_database(url)
    directory = build_directory([{"id": "bus-02-jt808", "school_id": "antelope-park-es", "kind": "bus_tracker",
                                  "bus_id": "bus-02", "user_id": None, "source": "jt808", "external_id": PHONE,
                                  "config": {}}])
    protocol = Jt808Protocol(ProtocolContext([directory], Limits(), url))
    try:
        result, code = protocol.issue(PHONE)
        assert result == RegisterResult.OK and code is not None
        assert protocol.verify(PHONE, code)
        assert protocol.issue("13800000000") == (RegisterResult.NO_SUCH_TERMINAL, None)
        private_postgres.stop()
        assert protocol.verify(PHONE, code)  # believed by the code it last used
        assert not protocol.verify(PHONE, "not the code")
        private_postgres.start()
        assert protocol.verify(PHONE, code)  # on a fresh connection: the pool dropped the dead ones
        assert protocol.issue(PHONE) == (RegisterResult.TERMINAL_REGISTERED, None)  # a used code holds the number
    finally:
        protocol.close()
