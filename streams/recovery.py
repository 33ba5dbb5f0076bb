"""Faust 0.15.3's end of table recovery, with the stream partitions sought before they resume.

When a worker is given partitions it restores their tables, then seeks its input partitions
to their committed offsets and lets them flow. Faust resumes the input partitions *before*
the seek, and the three steps after it lose inputs:

1. in the time the seek takes, the fetcher reads a batch from the resumed partitions and
   hands the first records of it to the agents;
2. the seek sets Faust's "last offset read" back to the committed offset, while the fetch
   loop goes on with the rest of the batch it already holds: it takes the jump from the
   committed offset to the next record of the batch for a gap in the partition and counts
   every offset in it as processed;
3. resuming the flow then empties the agents' queues, where some of the records of step 1
   still waited.

Those records are neither processed nor read again, and their offsets are committed. In the
join/leave test this showed as matching rounds that waited for good after a rebalance: the
block answers they waited for were among the lost records.

Here the seek is made while the input partitions are still paused, and they resume only
once the flow has resumed: the first record read is the one at the committed offset, and
nothing waits in a queue when it is emptied. Only the order differs from Faust's own
``Recovery.on_recovery_completed``. (Faust's ``_resume_streams``, the path for an app
without tables, has the same order; this app always has tables.)
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from faust.tables import TableManager
from faust.tables.recovery import Recovery


class SeekThenResumeRecovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        app = cast(Any, self.app)
        consumer = app.consumer
        self.log.info("Restore complete!")
        await app.on_rebalance_complete.send()
        self._set_recovery_ended()
        table_callbacks = [
            asyncio.ensure_future(
                table.on_recovery_completed(
                    self.actives_for_table[table], self.standbys_for_table[table]
                )
            )
            for table in self.tables.values()
        ]
        if table_callbacks:
            await asyncio.wait(table_callbacks)
        assignment = consumer.assignment()
        if app.consumer_generation_id != generation_id:
            self.log.warning(
                "Recovery rebalancing again: generation %r, recovery for %r",
                app.consumer_generation_id,
                generation_id,
            )
            return
        if assignment:
            self.log.info("Seek stream partitions to committed offsets, before they resume.")
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        self.completed.set()
        app.flow_control.resume()  # empties the queues: nothing of the inputs is in them yet
        consumer.resume_flow()
        consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
        await app._fetcher.maybe_start()
        self.tables.on_actives_ready()
        if not app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")


class SeekThenResumeTableManager(TableManager):
    """Faust's table manager, with :class:`SeekThenResumeRecovery` as its recovery."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekThenResumeRecovery(
                self.app, self, beacon=self.beacon, loop=self.loop
            )
        return self._recovery
