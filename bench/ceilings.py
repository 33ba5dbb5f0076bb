"""The two ceilings ``bench.throughput`` sets the full pipeline beside, as worker processes.

``python -m bench.ceilings faust`` runs a Faust worker whose one agent decodes each message
(JSON) and forwards it; ``python -m bench.ceilings aiokafka`` a plain aiokafka loop that
does the same with ``getmany`` and batched sends. Both read ``BENCH_INPUT`` from the start
and write ``BENCH_OUTPUT`` on the broker ``KAFKA_BOOTSTRAP_SERVERS``, with the consumer
group ``BENCH_GROUP``, until stopped (SIGTERM). They do what any pipeline on the same broker
must at least do, so their rate is what the full pipeline is measured against: the
framework's and the client's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import faust
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


def _reencode(value: bytes | None) -> bytes | None:
    """Decode and encode again, as any JSON pipeline must; what is not JSON goes on as it is
    (the generated input carries broken messages on purpose)."""
    if value is None:
        return None
    try:
        return orjson.dumps(orjson.loads(value))
    except orjson.JSONDecodeError:
        return value


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"bench.ceilings: {name} is not set")
    return value


def run_faust() -> None:
    """Decode and forward in a Faust agent, configured like the service's own app."""
    data_dir = Path(_env("BENCH_DATA_DIR"))
    data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        _env("BENCH_GROUP"),
        broker=[f"kafka://{server}" for server in _env("KAFKA_BOOTSTRAP_SERVERS").split(",")],
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        topic_disable_leader=True,
        datadir=str(data_dir / "faust"),
        web_enabled=False,
    )
    source = app.topic(_env("BENCH_INPUT"), key_type=bytes, value_type=bytes)
    sink = app.topic(_env("BENCH_OUTPUT"), key_type=bytes, value_type=bytes)

    @app.agent(source)
    async def forward(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            await sink.send(key=event.message.key, value=_reencode(event.value))

    # The service's default level. At "warning" or above Faust keeps its console spinner,
    # which sets the root logger to DEBUG and turns on every debug line: every message's
    # debug lines were then made, 10% of this ceiling's CPU in a py-spy profile.
    worker = faust.Worker(app, loglevel="info")
    worker.execute_from_commandline()


async def _aiokafka_loop() -> None:
    servers = _env("KAFKA_BOOTSTRAP_SERVERS")
    consumer = AIOKafkaConsumer(
        _env("BENCH_INPUT"),
        bootstrap_servers=servers,
        group_id=_env("BENCH_GROUP"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=5)
    output = _env("BENCH_OUTPUT")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            sent = []
            for records in batches.values():
                for record in records:
                    sent.append(
                        await producer.send(output, key=record.key, value=_reencode(record.value))
                    )
            if sent:
                await asyncio.gather(*sent)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind == "faust":
        run_faust()
    elif kind == "aiokafka":
        asyncio.run(_aiokafka_loop())
    else:
        raise SystemExit("usage: python -m bench.ceilings faust|aiokafka")


if __name__ == "__main__":
    main()
