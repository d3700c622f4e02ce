"""A cluster's outage: once a read finds it unreachable, one read at a time tries it and the others end
at once with its error, until a read reaches it again."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import AutoReconnect, NetworkTimeout, OperationFailure, ServerSelectionTimeoutError

from opsdash.config.fleet import parse_mongo_url
from opsdash.engine import pass_cache
from opsdash.engine.mongo import Admission, MongoClients, classify_mongo_error, describe_mongo_error
from tests.engine.fakes import wedged_driver_read

OPTIONS = "?directConnection=true&authSource=admin"
DOWN = parse_mongo_url(f"mongodb://ops:pw@down.example:27017/a{OPTIONS}", "a")
SAME_CLUSTER = parse_mongo_url(f"mongodb://ops:pw@down.example:27017/b{OPTIONS}", "b")
ELSEWHERE = parse_mongo_url(f"mongodb://ops:pw@up.example:27017/c{OPTIONS}", "c")
REFUSED = ServerSelectionTimeoutError(
    "down.example:27017: [Errno 111] Connection refused (configured timeouts: connectTimeoutMS: 5000.0ms),"
    " Timeout: 5.0s, Topology Description: <TopologyDescription ...>"
)


def test_a_cluster_not_known_down_is_read_as_usual() -> None:
    clients = MongoClients()
    assert clients.admit(DOWN) == Admission()
    clients.settle(DOWN, Admission(), ("a document",))
    assert clients.admit(DOWN) == Admission()


def test_after_an_outage_one_read_tries_the_cluster_and_the_others_end_at_once() -> None:
    clients = MongoClients()
    clients.settle(DOWN, clients.admit(DOWN), REFUSED)
    assert clients.admit(SAME_CLUSTER) == Admission(probe=True)
    refused = clients.admit(DOWN)
    assert isinstance(refused, ServerSelectionTimeoutError)
    assert classify_mongo_error(refused) == classify_mongo_error(REFUSED) == "connect"
    assert describe_mongo_error(refused) == (
        "ServerSelectionTimeoutError: down.example:27017: [Errno 111] Connection refused"
        " (cluster unreachable for 0 s: not asked again until a read reaches it)"
    )
    assert clients.admit(ELSEWHERE) == Admission()


def test_a_failed_or_cancelled_try_lets_the_next_read_try() -> None:
    clients = MongoClients()
    clients.settle(DOWN, clients.admit(DOWN), REFUSED)
    probe = clients.admit(DOWN)
    clients.settle(DOWN, probe, NetworkTimeout("down.example:27017: timed out"))
    again = clients.admit(DOWN)
    assert again == Admission(probe=True)
    assert "timed out" in str(clients.admit(DOWN))
    clients.settle(DOWN, again, None)
    assert clients.admit(DOWN) == Admission(probe=True)


def test_a_read_sent_before_the_outage_was_known_does_not_end_the_try() -> None:
    clients = MongoClients()
    early = clients.admit(DOWN)
    clients.settle(DOWN, clients.admit(DOWN), REFUSED)
    probe = clients.admit(DOWN)
    clients.settle(DOWN, early, REFUSED)
    assert isinstance(clients.admit(DOWN), ServerSelectionTimeoutError)
    clients.settle(DOWN, probe, REFUSED)
    assert clients.admit(DOWN) == Admission(probe=True)


@pytest.mark.parametrize(
    "answer",
    [("a document",), OperationFailure("not authorized", code=13), AutoReconnect("connection reset")],
)
def test_any_answer_but_an_outage_ends_it(answer: object) -> None:
    clients = MongoClients()
    clients.settle(DOWN, clients.admit(DOWN), REFUSED)
    clients.settle(DOWN, clients.admit(DOWN), answer)
    assert clients.admit(DOWN) == Admission()


async def test_read_sends_only_what_it_is_let_send_and_settles_a_cancelled_try() -> None:
    clients = MongoClients()
    sent: list[str] = []
    gate, trying_now = asyncio.Event(), asyncio.Event()

    async def refused() -> object:
        sent.append("refused")
        return REFUSED

    async def hangs() -> object:
        sent.append("hangs")
        trying_now.set()
        await gate.wait()
        return ("never",)

    assert await clients.read(DOWN, refused) is REFUSED
    trying = asyncio.ensure_future(clients.read(DOWN, hangs))
    await trying_now.wait()
    assert isinstance(await clients.read(DOWN, refused), ServerSelectionTimeoutError)
    assert sent == ["refused", "hangs"]
    trying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trying
    assert clients.admit(DOWN) == Admission(probe=True)


async def test_a_caller_that_gives_up_at_its_deadline_leaves_the_driver_read_running() -> None:
    """Outside a pass too (the dashboard's scheduled runs): the driver, cancelled in the middle of a
    server selection, can leave its topology lock held for good, so a caller's deadline must not reach
    the read; the read ends on the driver's own timeout."""
    clients = MongoClients()
    started, answer = asyncio.Event(), asyncio.Event()

    async def slow() -> object:
        started.set()
        await answer.wait()
        return ("a document",)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(None) as deadline:
            read = pass_cache.shared("company", lambda: clients.read(DOWN, slow))
            waiting = asyncio.ensure_future(pass_cache.joined(read))
            await started.wait()
            deadline.reschedule(asyncio.get_running_loop().time())
            await waiting
    assert not read.done()
    answer.set()
    assert await read == ("a document",)


async def test_a_cancelled_read_ends_cancelled_when_the_driver_raises_instead() -> None:
    """The async driver, cancelled in the middle of a server selection, raises ``RuntimeError: Lock is
    not acquired``; a read cancelled all the same (the engine stopping) must end cancelled, not crash."""
    clients = MongoClients()
    started = asyncio.Event()
    read = asyncio.ensure_future(clients.read(DOWN, wedged_driver_read(started)))
    await started.wait()
    first = clients.client_for(DOWN)
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    assert clients.admit(DOWN) == Admission()
    assert clients.client_for(DOWN) is first


async def test_a_client_whose_driver_lock_broke_is_replaced_for_every_tenant_on_it() -> None:
    clients = MongoClients()
    broken = clients.client_for(DOWN)
    assert clients.client_for(SAME_CLUSTER) is broken
    assert clients.database_for(DOWN).client is broken
    clients.settle(DOWN, clients.admit(DOWN), REFUSED)

    async def lock_broke() -> object:
        raise RuntimeError("cannot wait on un-acquired lock")

    with pytest.raises(RuntimeError):
        await clients.read(DOWN, lock_broke)
    fresh = clients.client_for(SAME_CLUSTER)
    assert fresh is not broken
    assert clients.client_for(DOWN) is fresh
    assert clients.database_for(DOWN).client is fresh
    assert clients.database_for(DOWN).name == "a"
    assert clients.admit(DOWN) == Admission()
    await clients.close()
